"""``ivfpq``: inverted file with product-quantised codes (IVFPQ): for collections whose vectors exceed memory.

Each vector is stored as ``m`` sub-quantiser codes of ``nbits`` bits (Jégou et al. 2011, "Product quantization
for nearest neighbor search"), so 128-d float32 (512 bytes) becomes e.g. 32 bytes. Quantisation caps recall
against exact search below 1 at any ``nprobe``; the build reports the fidelity it reached.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import faiss

from colorvariants.retrieval.index.base import IndexKind, register_index_kind
from colorvariants.retrieval.index.ivf import (
    MIN_POINTS_PER_CENTROID,
    TRAIN_POINTS_PER_CENTROID,
    default_nlist,
    nprobe_values,
)

# 8-bit codes (256 centroids per sub-space) are faiss' fast path; smaller sets get fewer bits so that every
# sub-quantiser still sees >= 39 training points per centroid.
MAX_NBITS = 8
MIN_NBITS = 4
# Bytes per vector tried from the most accurate down; m must divide D. D/4 bytes (4-d sub-spaces) is the
# richest code we use: D/2 more than doubles PQ training time (measured 39 s vs 17 s single-threaded on
# 20k x 128-d) and halves the compression, which is the reason to pick IVF-PQ. D/16 is the leanest.
CODE_FRACTIONS = (4, 8, 16)
# PQ training sample beyond the coarse quantiser's needs: 256 centroids x 39 points, rounded up.
MIN_PQ_TRAIN = 10_000
# Exact-ish re-ranking of the PQ shortlist (faiss IndexRefine over 8-bit scalar-quantised vectors, D bytes each):
# PQ alone plateaued at recall@10 0.935 on the 1M benchmark (BENCHMARKS.md); SQ8 distances are within ~1e-3 of
# the float ones, so re-scoring the top k x REFINE_K_FACTOR PQ candidates with them lifts the plateau. 1M x
# 128-d with 32-byte codes then needs 168 MB instead of 40 MB, inside a 200 MB budget.
REFINE_K_FACTOR = 8


def default_nbits(n: int) -> int:
    """8 bits when there are enough vectors to train 256 centroids per sub-space, fewer for small sets."""
    if n <= 0:
        return MIN_NBITS
    return int(max(MIN_NBITS, min(MAX_NBITS, math.floor(math.log2(max(n / MIN_POINTS_PER_CENTROID, 1.0))))))


def code_sizes(d: int) -> list[int]:
    """Candidate sub-quantiser counts m (bytes per vector at 8 bits), largest first; each divides d."""
    sizes = sorted({d // f for f in CODE_FRACTIONS if d % f == 0 and d // f >= 1}, reverse=True)
    return sizes or [1]


@register_index_kind
class IVFPQKind(IndexKind):
    """Compressed approximate search; memory N·(m·nbits/8 + 8) + 4·nlist·D + 4·D·2^nbits bytes (+ N·D with the
    SQ8 refine); tuned by ``nprobe``. With a memory budget, the largest code that fits *with* the refine stage
    (``refine=1``) is taken, else the largest without; with no budget, D/4 bytes and no refine."""

    name = "ivfpq"
    search_param = "nprobe"
    gpu_capable = True

    def default_params(self, n: int, d: int, memory_budget: int | None = None) -> dict[str, int]:
        nlist = default_nlist(n)
        nbits = default_nbits(n)
        sizes = code_sizes(d)
        m = d // 4 if d % 4 == 0 else sizes[-1]
        if memory_budget is None:
            return {"nlist": nlist, "m": m, "nbits": nbits, "refine": 0}
        options = [(s, r) for r in (1, 0) for s in sizes]
        fitting = [(s, r) for s, r in options
                   if self.memory_bytes(n, d, {"nlist": nlist, "m": s, "nbits": nbits, "refine": r}) <= memory_budget]
        m, refine = fitting[0] if fitting else (sizes[-1], 0)
        return {"nlist": nlist, "m": m, "nbits": nbits, "refine": refine}

    def memory_bytes(self, n: int, d: int, params: Mapping[str, int]) -> int:
        m, nbits, nlist = int(params["m"]), int(params["nbits"]), int(params["nlist"])
        refine = (n * d + 8 * d) if int(params.get("refine", 0)) else 0
        return n * (math.ceil(m * nbits / 8) + 8) + 4 * nlist * d + 4 * d * (2**nbits) + refine

    def factory_string(self, params: Mapping[str, int]) -> str:
        refine = ",Refine(SQ8)" if int(params.get("refine", 0)) else ""
        return f"IVF{int(params['nlist'])},PQ{int(params['m'])}x{int(params['nbits'])}{refine}"

    def create(self, d: int, params: Mapping[str, int]) -> faiss.Index:
        """The empty index with the refine stage's ``k_factor`` and without polysemous training."""
        index = super().create(d, params)
        top = faiss.downcast_index(index)
        if isinstance(top, faiss.IndexRefine):
            top.k_factor = float(params.get("k_factor", REFINE_K_FACTOR))
            top = faiss.downcast_index(top.base_index)
        assert isinstance(top, faiss.IndexIVFPQ)  # what factory_string describes
        # The factory turns on polysemous training (Douze et al. 2016), which only serves Hamming-distance
        # filtering we never use, and costs 15x the PQ training itself (measured: 3000 x 32-d, 8x8 codes).
        top.do_polysemous_training = False  # type: ignore[attr-defined]  # faiss's stub lacks this IndexIVFPQ field
        return index

    def training_size(self, n: int, params: Mapping[str, int]) -> int:
        return min(n, max(TRAIN_POINTS_PER_CENTROID * int(params["nlist"]), MIN_PQ_TRAIN))

    def search_values(self, params: Mapping[str, int]) -> list[int]:
        return nprobe_values(int(params["nlist"]))

    def infer_params(self, index: faiss.Index) -> dict[str, int]:
        return {"nlist": int(faiss.extract_index_ivf(index).nlist)}
