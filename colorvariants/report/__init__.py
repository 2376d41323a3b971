"""Report stage: the benchmark runner (``report.benchmark``) and its self-contained HTML report (``report.html``).

Submodules are imported where used (``from colorvariants.report.html import render_report``) so that importing
the package loads neither torch nor faiss.
"""

from __future__ import annotations
