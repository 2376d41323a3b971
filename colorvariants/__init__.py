"""colorvariants: embeddings in which colour variants of a fashion product sit together.

Stages, each a sub-package: ``data`` (catalog, images, cache, synthetic catalog) -> ``models`` (backbones,
methods) -> ``retrieval`` (embed, index, evaluate, dedup) -> ``report`` (benchmark, HTML). ``metrics`` holds
pure metric functions shared by training's online evaluation and retrieval. The CLI sits on top.
"""

from __future__ import annotations

__version__ = "0.1.0"
