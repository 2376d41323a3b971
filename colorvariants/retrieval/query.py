"""Nearest colour variants of new images: load the model and the index once, then embed and search."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from colorvariants.data.cache import letterbox
from colorvariants.data.images import load_rgb
from colorvariants.errors import EmbeddingError
from colorvariants.models.checkpoint import load_model
from colorvariants.retrieval.index import load_index
from colorvariants.retrieval.rerank import (
    Candidates,
    Database,
    NeighbourGraph,
    knn_graph,
    make_reranker,
    rerank,
)
from colorvariants.retrieval.store import EmbeddingSet


class VariantFinder:
    """Query an index with images the catalog has never seen (same preprocessing as the embedding export).

    >>> finder = VariantFinder("runs/cvssl/model.pt", "index/")       # doctest: +SKIP
    >>> finder.query(["new_product.jpg"], k=10)                         # doctest: +SKIP
    """

    def __init__(self, ckpt: str | Path, index_dir: str | Path, rerank: str | None = None,
                 embeddings: str | Path | None = None, candidates: int = 100) -> None:
        """``rerank`` (a re-ranker spec) needs ``embeddings``, the set the index was built from: its kNN graph is
        searched once here through the index (one query per catalog image)."""
        self.reranker = make_reranker(rerank)  # a bad spec or a missing --embeddings fails before any load
        if self.reranker is not None and embeddings is None:
            raise EmbeddingError(
                "re-ranking a query needs the catalog's kNN graph.",
                fix="pass --embeddings, the embedding set the index was built from.",
            )
        self.model = load_model(ckpt)
        self.size = int(self.model.config.image_size)
        probe = self.model.embed(torch.zeros(1, 3, self.size, self.size, dtype=torch.uint8))
        self.index = load_index(index_dir, expected_dim=int(probe.shape[1]))
        self.candidates = candidates
        self.db: Database | None = None
        if self.reranker is not None and embeddings is not None:
            es = EmbeddingSet.load(embeddings)
            if es.count != self.index.count:
                raise EmbeddingError(
                    f"{embeddings}: {es.count} vectors but the index holds {self.index.count}.",
                    fix="pass the embedding set the index was built from.",
                )
            vectors = es.unit_vectors()
            graph = knn_graph(vectors, self.reranker.graph_k,
                              search=lambda q, d: self.index.search(q, d, normalized=True))
            self.db = Database(vectors, graph)

    def embed_files(self, paths: Sequence[str | Path]) -> np.ndarray:
        """L2-normalised embeddings of image files, letterboxed exactly as the cache does."""
        arrays = [letterbox(load_rgb(p), self.size)[0] for p in paths]
        batch = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
        return self.model.embed(batch).numpy()

    def query(self, paths: Sequence[str | Path], k: int = 10) -> pd.DataFrame:
        """One row per (query, rank): query, rank, similarity (re-ranked score with a re-ranker) and the
        neighbour's id columns."""
        vectors = self.embed_files(paths)
        if self.reranker is None or self.db is None:
            sims, rows = self.index.search(vectors, k, normalized=True)
        else:
            depth = max(k, self.candidates, self.reranker.graph_k)
            sims, rows = self.index.search(vectors, depth, normalized=True)
            q = Candidates(vectors, NeighbourGraph(rows, sims), np.full(len(paths), -1, dtype=np.int64))
            ranked = rerank(self.reranker, self.db, q).head(k)
            sims, rows = ranked.sims, ranked.rows
        out = []
        for qi, path in enumerate(paths):
            for rank, (s, r) in enumerate(zip(sims[qi], rows[qi], strict=True), start=1):
                if r < 0:
                    continue
                out.append({"query": str(path), "rank": rank, "similarity": float(s),
                            **self.index.ids.iloc[int(r)].to_dict()})
        return pd.DataFrame(out)
