"""Retrieval stage: the embedding store, FAISS indexes, protocol evaluation and colour-variant de-duplication.

Submodules are imported where used (``colorvariants.retrieval.store``, ``.index``, ``.evaluate``, ``.dedup``)
so that importing the package does not load faiss.
"""

from __future__ import annotations
