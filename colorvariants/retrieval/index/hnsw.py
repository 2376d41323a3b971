"""``hnsw``: hierarchical navigable small-world graph over full vectors (IndexHNSWFlat, inner product)."""

from __future__ import annotations

from collections.abc import Mapping

import faiss

from colorvariants.retrieval.index.base import IndexKind, register_index_kind

# M=32 neighbours per node and efConstruction=40 are faiss' defaults for HNSW32 (Malkov & Yashunin 2018 use
# M in 5..48); efSearch is tuned after the build.
DEFAULT_M = 32
DEFAULT_EF_CONSTRUCTION = 40
# Steps of ~1.15x from 96 up: the 1M benchmark's target sat between 128 and 192 (BENCHMARKS.md), where the old
# 1.5x steps paid up to 50% more search than the target needed.
EF_SEARCH_VALUES = (16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256, 320, 384, 512, 768, 1024)


@register_index_kind
class HNSWKind(IndexKind):
    """Graph search; memory 4·N·D + ~(8·M + 16)·N bytes; no training; CPU only in faiss; knob ``efSearch``.

    Level 0 holds 2·M links of 4 bytes per node, the upper levels ~M/(M-1) more on average.
    """

    name = "hnsw"
    search_param = "efSearch"
    gpu_capable = False

    def default_params(self, n: int, d: int, memory_budget: int | None = None) -> dict[str, int]:
        return {"M": DEFAULT_M, "efConstruction": DEFAULT_EF_CONSTRUCTION}

    def memory_bytes(self, n: int, d: int, params: Mapping[str, int]) -> int:
        return 4 * n * d + (8 * int(params["M"]) + 16) * n

    def factory_string(self, params: Mapping[str, int]) -> str:
        return f"HNSW{int(params['M'])},Flat"

    def create(self, d: int, params: Mapping[str, int]) -> faiss.Index:
        """The empty graph index, with its ``efConstruction`` (the factory string cannot say it)."""
        index = super().create(d, params)
        graph = faiss.downcast_index(index)
        assert isinstance(graph, faiss.IndexHNSW)  # what factory_string describes
        graph.hnsw.efConstruction = int(params.get("efConstruction", DEFAULT_EF_CONSTRUCTION))
        return index

    def search_values(self, params: Mapping[str, int]) -> list[int]:
        return list(EF_SEARCH_VALUES)
