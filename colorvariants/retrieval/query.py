"""Nearest colour variants of new images: load the model and the index once, then embed and search."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from colorvariants.data.cache import letterbox
from colorvariants.data.images import load_rgb
from colorvariants.models.checkpoint import load_model
from colorvariants.retrieval.index import load_index


class VariantFinder:
    """Query an index with images the catalog has never seen (same preprocessing as the embedding export).

    >>> finder = VariantFinder("runs/cvssl/model.pt", "index/")       # doctest: +SKIP
    >>> finder.query(["new_product.jpg"], k=10)                         # doctest: +SKIP
    """

    def __init__(self, ckpt: str | Path, index_dir: str | Path) -> None:
        self.model = load_model(ckpt)
        self.size = int(self.model.config.image_size)
        probe = self.model.embed(torch.zeros(1, 3, self.size, self.size, dtype=torch.uint8))
        self.index = load_index(index_dir, expected_dim=int(probe.shape[1]))

    def embed_files(self, paths: Sequence[str | Path]) -> np.ndarray:
        """L2-normalised embeddings of image files, letterboxed exactly as the cache does."""
        arrays = [letterbox(load_rgb(p), self.size)[0] for p in paths]
        batch = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
        return self.model.embed(batch).numpy()

    def query(self, paths: Sequence[str | Path], k: int = 10) -> pd.DataFrame:
        """One row per (query, rank): query, rank, similarity and the neighbour's id columns."""
        sims, rows = self.index.search(self.embed_files(paths), k, normalized=True)
        out = []
        for qi, path in enumerate(paths):
            for rank, (s, r) in enumerate(zip(sims[qi], rows[qi]), start=1):
                if r < 0:
                    continue
                out.append({"query": str(path), "rank": rank, "similarity": float(s),
                            **self.index.ids.iloc[int(r)].to_dict()})
        return pd.DataFrame(out)
