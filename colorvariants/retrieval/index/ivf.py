"""``ivf``: inverted file with full vectors (IVFFlat): k-means cells, search visits ``nprobe`` of them."""

from __future__ import annotations

import math
from collections.abc import Mapping

import faiss

from colorvariants.retrieval.index.base import IndexKind, register_index_kind

# faiss' k-means wants at least 39 training points per centroid (it warns below); we train on 64 per centroid.
MIN_POINTS_PER_CENTROID = 39
TRAIN_POINTS_PER_CENTROID = 64


def default_nlist(n: int) -> int:
    """IVF cells: ~4·sqrt(N) (faiss wiki, "Guidelines to choose an index"), at least 39 points per cell."""
    return int(max(1, min(round(4 * math.sqrt(max(n, 1))), n // MIN_POINTS_PER_CENTROID)))


def nprobe_values(nlist: int) -> list[int]:
    """Powers of two up to nlist, then nlist itself (exhaustive: equals exact search for IVFFlat)."""
    values = [v for v in (2**i for i in range(0, 20)) if v < nlist]
    return values + [nlist]


@register_index_kind
class IVFFlatKind(IndexKind):
    """Approximate search over full vectors; memory 4·N·D + 8·N (ids) + 4·nlist·D bytes; knob ``nprobe``."""

    name = "ivf"
    search_param = "nprobe"
    gpu_capable = True

    def default_params(self, n: int, d: int, memory_budget: int | None = None) -> dict[str, int]:
        return {"nlist": default_nlist(n)}

    def memory_bytes(self, n: int, d: int, params: Mapping[str, int]) -> int:
        return 4 * n * d + 8 * n + 4 * int(params["nlist"]) * d

    def factory_string(self, params: Mapping[str, int]) -> str:
        return f"IVF{int(params['nlist'])},Flat"

    def training_size(self, n: int, params: Mapping[str, int]) -> int:
        return min(n, TRAIN_POINTS_PER_CENTROID * int(params["nlist"]))

    def search_values(self, params: Mapping[str, int]) -> list[int]:
        return nprobe_values(int(params["nlist"]))

    def infer_params(self, index: faiss.Index) -> dict[str, int]:
        return {"nlist": int(faiss.extract_index_ivf(index).nlist)}
