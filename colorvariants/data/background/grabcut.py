"""Offline background removal with OpenCV GrabCut, seeded by a thin border band of sure background.

GrabCut (Rother, Kolmogorov, Blake, SIGGRAPH 2004) fits colour mixtures to the background and the foreground
and cuts a graph between them; seeded with a rectangle it needs no weights. It copes with busier backdrops than
a flood fill (it models several colours on each side), at a higher cost per image. By default it starts from the
``floodfill`` backend's mask inside that rectangle, which fixes the bare rectangle's two weaknesses: a garment
reaching into the border band, and backdrop colours (a shadow, a lit centre) never seen in the band.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from colorvariants.data.background import register_remover, work_array
from colorvariants.data.background.floodfill import FloodFillConfig, FloodFillRemover
from colorvariants.data.background.masks import clean_mask, resize_mask


@dataclass
class GrabCutConfig:
    """Knobs of the GrabCut backend.

    Attributes:
        max_side: work resolution (longer side, pixels); GrabCut's cost grows with the pixel count.
        rect_frac: width of the border band outside the seed rectangle (sure background), relative to each side.
        iterations: GrabCut's EM iterations (5 is OpenCV's usual choice; more rarely changes the cut).
        kernel_frac: morphological clean-up kernel relative to the shorter side.
        min_area_frac: a garment smaller than this share of the image is taken as a failure and the whole image
            is returned as foreground (removing nothing is safer than blanking the product).
        seed: OpenCV's RNG seed (GrabCut initialises its mixtures with k-means), for reproducible masks.
        init_from_floodfill: start from the ``floodfill`` backend's mask (its backdrop as probable background,
            the rest as probable foreground; the border band stays sure background where the flood fill agrees)
            instead of the bare rectangle: the backdrop's far-from-border colours (a lit centre, a second tone, a
            cast shadow) are then known to be background, a garment reaching into the band is kept, and GrabCut
            refines the edge. On the synthetic benchmark this lifts mean IoU from 0.84 to 0.95 (BENCHMARKS.md);
            False gives the classic rectangle-only GrabCut. When the flood fill finds no backdrop, the rectangle
            is used.
    """

    max_side: int = 256
    rect_frac: float = 0.03
    iterations: int = 5
    kernel_frac: float = 0.01
    min_area_frac: float = 0.005
    seed: int = 0
    init_from_floodfill: bool = True


@register_remover("grabcut")
class GrabCutRemover:
    """Foreground mask by GrabCut inside a rectangle inset from the border. See the module docstring.

    >>> mask = GrabCutRemover(GrabCutConfig(iterations=3)).mask(image)  # doctest: +SKIP
    """

    config_class = GrabCutConfig

    def __init__(self, config: GrabCutConfig | None = None) -> None:
        self.config = config or GrabCutConfig()

    def mask(self, image: Image.Image) -> np.ndarray:
        """``uint8 (H, W)`` 0/255 mask of the garment at the image's own size."""
        cfg = self.config
        rgb = work_array(image, cfg.max_side)
        h, w = rgb.shape[:2]
        mx = max(1, int(round(cfg.rect_frac * w)))
        my = max(1, int(round(cfg.rect_frac * h)))
        if w - 2 * mx < 4 or h - 2 * my < 4:
            return np.full((image.height, image.width), 255, np.uint8)
        rect = (mx, my, w - 2 * mx, h - 2 * my)
        gc_mask = np.zeros((h, w), np.uint8)
        mode = cv2.GC_INIT_WITH_RECT
        if cfg.init_from_floodfill:
            seeded = self._floodfill_seed(rgb, rect)
            if seeded is not None:
                gc_mask, mode = seeded, cv2.GC_INIT_WITH_MASK
        bgd = np.zeros((1, 65), np.float64)
        fgd = np.zeros((1, 65), np.float64)
        cv2.setRNGSeed(cfg.seed)
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        try:
            cv2.grabCut(bgr, gc_mask, rect, bgd, fgd, cfg.iterations, mode)
        except cv2.error:
            # GrabCut fails when one side has too few distinct colours (e.g. a flat image): keep everything.
            return np.full((image.height, image.width), 255, np.uint8)
        fg = np.where((gc_mask == cv2.GC_FGD) | (gc_mask == cv2.GC_PR_FGD), 255, 0).astype(np.uint8)
        fg = clean_mask(fg, kernel_frac=cfg.kernel_frac, keep_largest=True)
        if (fg > 0).mean() < cfg.min_area_frac:
            fg = np.full_like(fg, 255)
        return resize_mask(fg, image.size)

    def _floodfill_seed(self, rgb: np.ndarray, rect: tuple[int, int, int, int]) -> np.ndarray | None:
        """GrabCut's initial labels from a flood fill, or None when the flood fill found no backdrop."""
        h, w = rgb.shape[:2]
        ff = FloodFillRemover(FloodFillConfig(max_side=max(h, w))).mask(Image.fromarray(rgb))
        if ff.min() > 0 or ff.max() == 0:
            return None
        seed = np.where(ff > 0, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
        x, y, rw, rh = rect
        band = np.ones((h, w), bool)
        band[y : y + rh, x : x + rw] = False
        seed[band & (ff == 0)] = cv2.GC_BGD
        return seed
