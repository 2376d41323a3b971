"""``kreciprocal``: k-reciprocal re-ranking (Zhong et al., CVPR 2017, "Re-ranking person re-identification with
k-reciprocal encoding"), on the sparse kNN graph.

For a point p: R(p, k1) = its top-k1 neighbours that also hold p in their top k1; grown by every
R(q, k1/2), q in R(p, k1), that shares > 2/3 of its members with R(p, k1). p is encoded as a sparse vector V_p
over the catalog (weight exp(-(1 - cos)) on R*(p), normalised to sum 1), smoothed over its k2 nearest
neighbours (local query expansion); the Jaccard distance of two encodings, mixed with the plain distance
(weight ``lam``), is the new distance. Similarity returned: ``1 - ((1 - lam)·d_jaccard + lam·(1 - cos))``.

An outside query p is in R(j) when its cosine to j reaches j's k1-th neighbour's. Everything is sparse: the
encodings hold ~k1·k1/2 entries per row and only candidate pairs are compared, so the cost is
O(N·k1²·k1/2) for the encodings plus O(queries x candidates x k1) for the comparisons.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from colorvariants.retrieval.rerank.base import Candidates, Database, Reranker, gather_dot, register_reranker

_BLOCK = 4096


def reciprocal_sets(rows: np.ndarray, sims: np.ndarray, kth: np.ndarray, k: int, own: np.ndarray) -> np.ndarray:
    """Padded (-1) k-reciprocal set of each query: top-``k`` candidates j with sim >= ``kth[j]``, plus itself."""
    r, s = rows[:, :k], sims[:, :k]
    ok = (r >= 0) & (s >= kth[np.where(r >= 0, r, 0)])
    return np.concatenate([own[:, None], np.where(ok, r, -1)], axis=1)


def expanded_sets(sets: np.ndarray, half: np.ndarray) -> sparse.csr_matrix:
    """Binary (Q x N) R*: each set plus every member's half-size set sharing > 2/3 of its members with it."""
    q_idx, cols = [], []
    n = half.shape[0]
    for start in range(0, sets.shape[0], _BLOCK):
        s = sets[start : start + _BLOCK]                                  # (B, a)
        h = half[np.where(s >= 0, s, 0)]                                  # (B, a, b)
        h = np.where((s >= 0)[:, :, None], h, -1)
        member = (h[:, :, :, None] == s[:, None, None, :]).any(axis=3) & (h >= 0)
        size = (h >= 0).sum(axis=2)
        accept = member.sum(axis=2) > (2.0 / 3.0) * np.maximum(size, 1)  # (B, a)
        grown = np.where(accept[:, :, None], h, -1).reshape(s.shape[0], -1)
        both = np.concatenate([s, grown], axis=1)
        b, c = np.nonzero(both >= 0)
        q_idx.append(b + start)
        cols.append(both[b, c])
    q_idx_a, cols_a = np.concatenate(q_idx), np.concatenate(cols)
    m = sparse.csr_matrix((np.ones(q_idx_a.size, np.float32), (q_idx_a, cols_a)), shape=(sets.shape[0], n))
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def encode(members: sparse.csr_matrix, vectors: np.ndarray, base: np.ndarray) -> sparse.csr_matrix:
    """V: weight exp(-(1 - cos)) on each member, rows normalised to sum 1."""
    coo = members.tocoo()
    sims = np.empty(coo.nnz, np.float32)
    for start in range(0, coo.nnz, 1 << 18):
        r, c = coo.row[start : start + (1 << 18)], coo.col[start : start + (1 << 18)]
        sims[start : start + r.size] = np.einsum("nd,nd->n", np.asarray(vectors[r], np.float32),
                                                  np.asarray(base[c], np.float32))
    w = np.exp(-(1.0 - sims)).astype(np.float32)
    v = sparse.csr_matrix((w, (coo.row, coo.col)), shape=members.shape)
    total = np.asarray(v.sum(axis=1)).reshape(-1)
    return sparse.diags(1.0 / np.maximum(total, 1e-12)).dot(v).tocsr()


def smooth(v_own: sparse.csr_matrix, v_db: sparse.csr_matrix, rows: np.ndarray, k2: int) -> sparse.csr_matrix:
    """Local query expansion: mean of a row's own encoding and its ``k2 - 1`` nearest catalog encodings."""
    if k2 <= 1:
        return v_own
    r = rows[:, : k2 - 1]
    q, j = np.nonzero(r >= 0)
    counts = 1 + (r >= 0).sum(axis=1)
    a = sparse.csr_matrix((1.0 / counts[q], (q, r[q, j])), shape=(rows.shape[0], v_db.shape[0]))
    return (sparse.diags(1.0 / counts).dot(v_own) + a.dot(v_db)).tocsr()


def shared_mass(a: sparse.csr_matrix, b: sparse.csr_matrix, rows: np.ndarray) -> np.ndarray:
    """``sum_g min(a[i, g], b[rows[i, j], g])`` for every candidate (i, j), via sorted-key look-ups."""
    a.sort_indices()
    b.sort_indices()
    n_cols = b.shape[1]
    b_rows = np.repeat(np.arange(b.shape[0], dtype=np.int64), np.diff(b.indptr))
    b_keys = b_rows * n_cols + b.indices
    out = np.zeros(rows.shape, np.float64)
    a_len = np.diff(a.indptr)
    for start in range(0, rows.shape[0], _BLOCK):
        blk = rows[start : start + _BLOCK]
        qi, ci = np.nonzero(blk >= 0)
        pair = np.arange(qi.size)
        q = qi + start
        reps = a_len[q]
        pair_of = np.repeat(pair, reps)
        first = np.repeat(a.indptr[q], reps)
        offs = np.arange(pair_of.size) - np.repeat(np.cumsum(reps) - reps, reps)
        entry = first + offs
        keys = blk[qi, ci][pair_of].astype(np.int64) * n_cols + a.indices[entry]
        pos = np.minimum(np.searchsorted(b_keys, keys), b_keys.size - 1)
        hit = b_keys[pos] == keys
        mins = np.where(hit, np.minimum(a.data[entry], b.data[pos]), 0.0)
        out[start + qi, ci] = np.bincount(pair_of, weights=mins, minlength=qi.size)
    return out


@register_reranker
@dataclass(frozen=True)
class KReciprocal(Reranker):
    """Settings of the paper (k1 20, k2 6, lambda 0.3); k1 is the reciprocal neighbourhood."""

    k1: int = 20
    k2: int = 6
    lam: float = 0.3
    name = "kreciprocal"
    summary = "k-reciprocal encoding + Jaccard distance mixed with cosine (Zhong et al. 2017)"

    @property
    def graph_k(self) -> int:
        return max(self.k1, self.k2)

    def rescore(self, db: Database, q: Candidates) -> np.ndarray:
        g = db.graph
        n = g.rows.shape[0]
        half = max(1, int(round(self.k1 / 2)))
        db_own = np.arange(n)
        kth_full = _kth(g.sims, self.k1)
        kth_half = _kth(g.sims, half)
        db_half = reciprocal_sets(g.rows, g.sims, kth_half, half, db_own)
        db_sets = reciprocal_sets(g.rows, g.sims, kth_full, self.k1, db_own)
        v_db = encode(expanded_sets(db_sets, db_half), db.vectors, db.vectors)
        v_db_smooth = smooth(v_db, v_db, g.rows, self.k2)
        if (q.own_rows >= 0).all():  # catalog images: their encodings are the database's
            v_q = v_db_smooth[q.own_rows]
        else:
            q_sets = reciprocal_sets(q.graph.rows, q.graph.sims, kth_full, self.k1, q.own_rows)
            v_q = smooth(encode(expanded_sets(q_sets, db_half), q.vectors, db.vectors), v_db, q.graph.rows,
                         self.k2)
        shared = shared_mass(v_q, v_db_smooth, q.graph.rows)
        jaccard = 1.0 - shared / np.maximum(2.0 - shared, 1e-12)
        cos = gather_dot(q.vectors, q.graph.rows, db.vectors)
        return (1.0 - ((1.0 - self.lam) * jaccard + self.lam * (1.0 - cos))).astype(np.float32)


def _kth(sims: np.ndarray, k: int) -> np.ndarray:
    """Each row's k-th neighbour similarity (its last one when it has fewer); -inf rows admit anyone."""
    col = min(k, sims.shape[1]) - 1
    return sims[:, col] if col >= 0 else np.full(sims.shape[0], -np.inf, np.float32)
