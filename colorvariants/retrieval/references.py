"""Reference embeddings that need no training: a colour histogram and an untrained network.

They anchor the benchmark: a method that cannot beat a colour histogram has learned colour, not design, and one
that cannot beat an untrained network has learned nothing useful for colour variants.
"""

from __future__ import annotations

import numpy as np
import torch

from colorvariants.models.base import EmbeddingModule
from colorvariants.models.registry import build_method


def color_histogram(images: np.ndarray, bins: int = 8, batch: int = 512) -> np.ndarray:
    """Joint RGB histogram (``bins``^3 cells) per uint8 (N, H, W, 3) image, square-rooted and L2-normalised.

    The square root (Hellinger kernel) keeps one dominant colour from swamping the rest.
    """
    n = images.shape[0]
    out = np.zeros((n, bins**3), dtype=np.float32)
    shift = 8 - int(np.log2(bins))
    for lo in range(0, n, batch):
        chunk = np.asarray(images[lo: lo + batch]).astype(np.int64) >> shift
        codes = (chunk[..., 0] * bins + chunk[..., 1]) * bins + chunk[..., 2]
        flat = codes.reshape(codes.shape[0], -1)
        for i, row in enumerate(flat):
            out[lo + i] = np.bincount(row, minlength=bins**3)
    out = np.sqrt(out)
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    return out


def untrained_module(backbone: str = "resnet18", image_size: int = 64, seed: int = 0,
                     small_stem: bool = False) -> EmbeddingModule:
    """A randomly initialised backbone (seeded) whose pooled features are the embedding."""
    torch.manual_seed(seed)
    module = build_method("triplet", {"backbone": backbone, "image_size": image_size, "embedding": "backbone",
                                      "small_stem": small_stem})
    return module.eval()
