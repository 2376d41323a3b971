"""The model stage's lists of allowed values, each defined once as a ``Literal`` with its tuple of values.

Configs annotate with the ``Literal``, modules check against the tuple, and the CLI quotes the tuples in its
``--help`` (``fit``), so help, validation and code cannot disagree. Only ``typing`` is imported here (and
``colorvariants.models`` imports its submodules lazily): the CLI reads these while building its parser.
Registries that are filled by code stay registries: backbones (``backbones.BACKBONES``), part layouts
(``data.augment.PART_LAYOUTS``) and triplet mining (``losses.triplet.MINERS``).
"""

from __future__ import annotations

from typing import Literal, get_args

MethodName = Literal["triplet", "simclr", "mocov2", "cvssl"]
"""The training methods; each is the file ``models/<name>.py`` that registers it (``registry.METHODS``)."""
METHOD_NAMES: tuple[MethodName, ...] = get_args(MethodName)

Precision = Literal["32-true", "bf16-mixed", "16-mixed"]
"""The precisions ``fit`` picks on its own and documents; ``trainer.precision`` also takes Lightning's others."""
PRECISIONS: tuple[Precision, ...] = get_args(Precision)

PartSource = Literal["crop", "pool"]
"""Where CV-SSL's part features come from: each part's own crop through the backbone, or one pass pooled."""
PART_SOURCES: tuple[PartSource, ...] = get_args(PartSource)

CVSSLEmbedding = Literal["whole", "concat", "mean"]
"""CV-SSL's retrieval vector: the whole image's features, whole + parts concatenated, or their mean."""
CVSSL_EMBEDDINGS: tuple[CVSSLEmbedding, ...] = get_args(CVSSLEmbedding)

TripletEmbedding = Literal["head", "backbone"]
"""The triplet model's retrieval vector: its trained linear head, or the pooled backbone features."""
TRIPLET_EMBEDDINGS: tuple[TripletEmbedding, ...] = get_args(TripletEmbedding)
