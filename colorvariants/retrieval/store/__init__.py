"""The embedding store: an ``EmbeddingSet`` is vectors + the id table of their images + metadata, as a folder.

Layout (docs/ARCHITECTURE.md, "Embedding set")::

    E/embeddings.npy   float32 (N, D), rows L2-normalised
    E/ids.parquet      one row per vector, same order: image_path, product_id (+ style_id, split, ...)
    E/meta.json        format, version, dim, count (+ method, checkpoint, ...); written last

Every file is written atomically and ``meta.json`` last (it is removed first when a set is overwritten), so
a folder without ``meta.json`` is an unfinished write and never loads. ``load`` memory-maps the vectors by
default, so a million-row set costs no RAM until it is read, and validates them (NaN/inf and zero rows,
counts, version) in bounded-memory chunks.

One file per job: ``vectors`` (normalisation and the bad-row scan, chunked), ``embedding_set`` (the set, its
folder format and meta.json), ``writer`` (``EmbeddingWriter``, streaming a set larger than RAM to disk).

>>> es = EmbeddingSet(vectors, ids, {"method": "cvssl"})   # doctest: +SKIP
>>> es.save("runs/x/embeddings")                            # doctest: +SKIP
>>> es = EmbeddingSet.load("runs/x/embeddings")             # doctest: +SKIP
"""

from __future__ import annotations

from colorvariants.retrieval.store.embedding_set import (
    EMBEDDINGS_FILE,
    EMBEDDINGS_META,
    FORMAT,
    IDS_FILE,
    META_FILE,
    REQUIRED_ID_COLUMNS,
    RESERVED_META_KEYS,
    STRING_ID_COLUMNS,
    VERSION,
    EmbeddingSet,
    ids_for_disk,
    write_set_meta,
)
from colorvariants.retrieval.store.vectors import (
    CHUNK_BYTES,
    CHUNK_ROWS,
    NORM_TOLERANCE,
    VectorCheck,
    check_vectors,
    chunk_rows_for,
    normalize_rows,
)
from colorvariants.retrieval.store.writer import EmbeddingWriter

__all__ = [
    "CHUNK_BYTES",
    "CHUNK_ROWS",
    "EMBEDDINGS_FILE",
    "EMBEDDINGS_META",
    "FORMAT",
    "IDS_FILE",
    "META_FILE",
    "NORM_TOLERANCE",
    "REQUIRED_ID_COLUMNS",
    "RESERVED_META_KEYS",
    "STRING_ID_COLUMNS",
    "VERSION",
    "EmbeddingSet",
    "EmbeddingWriter",
    "VectorCheck",
    "check_vectors",
    "chunk_rows_for",
    "ids_for_disk",
    "normalize_rows",
    "write_set_meta",
]
