"""``flat``: exact brute-force inner product (IndexFlatIP), the reference other kinds are measured against."""

from __future__ import annotations

from collections.abc import Mapping

from colorvariants.retrieval.index.base import IndexKind, register_index_kind


@register_index_kind
class FlatKind(IndexKind):
    """Exact search; memory 4·N·D bytes; a query costs N·D multiply-adds (fine below ~100k vectors on CPU)."""

    name = "flat"
    search_param = None
    gpu_capable = True

    def default_params(self, n: int, d: int, memory_budget: int | None = None) -> dict[str, int]:
        return {}

    def memory_bytes(self, n: int, d: int, params: Mapping[str, int]) -> int:
        return 4 * n * d

    def factory_string(self, params: Mapping[str, int]) -> str:
        return "Flat"
