"""Offline background removal for studio photos: grow the background inward from the image border.

Catalog photos are shot on a backdrop that fills the border: plain, a lighting gradient, or two tones (wall and
floor). We model the backdrop from a border strip twice, as a smooth colour field (a low-order polynomial in
``(x, y)`` per CIE Lab channel, fitted robustly so a garment touching the edge does not bend it) and as a small
palette (k-means of the border), call a pixel background-like when either model explains its colour within a
tolerance learned from the border's own noise, and keep as background only what connects to the border. The
garment is the rest, cleaned morphologically and reduced to its largest connected part. No weights, no network.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from colorvariants.data.background import register_remover, work_array
from colorvariants.data.background.masks import clean_mask, resize_mask


@dataclass
class FloodFillConfig:
    """Knobs of the border flood fill. Distances are CIE76 Delta E in Lab (about 2.3 is a just-noticeable step).

    Attributes:
        max_side: work resolution (longer side, pixels); the mask is scaled back up to the image's size.
        border_frac: width of the border strip the backdrop is learned from, relative to the shorter side.
        tolerance: smallest colour distance from the backdrop model still counted as backdrop.
        noise_factor: the tolerance grows to this many times the median residual of the border (noisy or
            textured backdrops need more slack) ...
        max_tolerance: ... but never beyond this, or pale garments on white would dissolve.
        blur_frac: Gaussian blur sigma relative to the shorter side, applied first: suppresses texture and
            JPEG noise so the backdrop reads as one region.
        poly_degree: degree of the smooth backdrop model (2 handles linear and radial lighting gradients).
        n_colours: size of the border palette (two-tone sets); 0 turns the palette off.
        palette_min_share: a palette colour must cover at least this share of the border to count as
            backdrop (a garment touching one edge covers less).
        inlier_quantile: share of border pixels trusted as backdrop when fitting (the rest may be garment
            touching the edge).
        kernel_frac: morphological clean-up kernel relative to the shorter side.
        min_area_frac: a garment smaller than this share of the image is taken as a failure, and the whole
            image is returned as foreground (removing nothing is safer than blanking the product).
    """

    max_side: int = 384
    border_frac: float = 0.02
    tolerance: float = 4.0
    noise_factor: float = 3.0
    max_tolerance: float = 25.0
    blur_frac: float = 0.008
    poly_degree: int = 2
    n_colours: int = 3
    palette_min_share: float = 0.15
    inlier_quantile: float = 0.6
    kernel_frac: float = 0.01
    min_area_frac: float = 0.005


def _poly_features(x: np.ndarray, y: np.ndarray, degree: int) -> np.ndarray:
    """Monomials ``x^i y^j`` with ``i + j <= degree`` as columns (x, y in [-1, 1] keep it well conditioned)."""
    cols = [x**i * y**j for total in range(degree + 1) for i in range(total + 1) for j in [total - i]]
    return np.stack(cols, axis=-1)


@register_remover("floodfill")
class FloodFillRemover:
    """Foreground mask by region-growing a backdrop model from the border. See the module docstring.

    >>> mask = FloodFillRemover().mask(image)  # doctest: +SKIP
    """

    config_class = FloodFillConfig

    def __init__(self, config: FloodFillConfig | None = None) -> None:
        self.config = config or FloodFillConfig()

    def mask(self, image: Image.Image) -> np.ndarray:
        """``uint8 (H, W)`` 0/255 mask of the garment at the image's own size."""
        cfg = self.config
        rgb = work_array(image, cfg.max_side)
        h, w = rgb.shape[:2]
        if min(h, w) < 8:
            return np.full((image.height, image.width), 255, np.uint8)
        background = self.background_region(rgb)
        fg = np.where(background, 0, 255).astype(np.uint8)
        fg = clean_mask(fg, kernel_frac=cfg.kernel_frac, keep_largest=True)
        if (fg > 0).mean() < cfg.min_area_frac:
            fg = np.full_like(fg, 255)
        return resize_mask(fg, image.size)

    def background_region(self, rgb: np.ndarray) -> np.ndarray:
        """Boolean ``(h, w)``: pixels that look like the backdrop and connect to the image border."""
        cfg = self.config
        h, w = rgb.shape[:2]
        short = min(h, w)
        sigma = max(0.5, cfg.blur_frac * short)
        smooth = cv2.GaussianBlur(rgb, (0, 0), sigmaX=sigma, sigmaY=sigma)
        lab = cv2.cvtColor(smooth.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
        raw_lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)

        b = max(2, int(round(cfg.border_frac * short)))
        strip = np.zeros((h, w), bool)
        strip[:b], strip[-b:], strip[:, :b], strip[:, -b:] = True, True, True, True

        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        xs = xs / max(w - 1, 1) * 2 - 1
        ys = ys / max(h - 1, 1) * 2 - 1
        feats = _poly_features(xs, ys, cfg.poly_degree)  # (h, w, F)

        border_lab = lab[strip]
        border_feats = feats[strip]
        coef, inliers = self._robust_fit(border_feats, border_lab)
        model = (feats.reshape(-1, feats.shape[-1]) @ coef).reshape(h, w, 3)
        resid = np.linalg.norm(border_lab[inliers] - border_feats[inliers] @ coef, axis=1)
        tol = float(np.clip(cfg.noise_factor * np.median(resid), cfg.tolerance, cfg.max_tolerance))

        # The blurred image reads a textured backdrop as one region; the raw one keeps the garment's edge sharp
        # (blur alone would bleed the garment's colour a few pixels into the backdrop and dilate the mask).
        palette = self._palette(border_lab) if cfg.n_colours > 0 else np.zeros((0, 3), np.float32)
        candidate = np.zeros((h, w), bool)
        for img in (lab, raw_lab):
            candidate |= np.linalg.norm(img - model, axis=2) < tol
            for colour in palette:
                candidate |= np.linalg.norm(img - colour, axis=2) < tol

        _, labels = cv2.connectedComponents(candidate.astype(np.uint8), connectivity=4)
        frame = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
        touching = np.unique(frame[frame > 0])
        return np.isin(labels, touching) & candidate

    def _robust_fit(self, feats: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Least squares of Lab on the monomials, refitted on the best-explained border pixels (trimmed LS)."""
        keep = np.ones(len(values), bool)
        coef = np.zeros((feats.shape[1], 3), np.float32)
        for _ in range(3):
            coef, *_ = np.linalg.lstsq(feats[keep], values[keep], rcond=None)
            resid = np.linalg.norm(values - feats @ coef, axis=1)
            keep = resid <= np.quantile(resid, self.config.inlier_quantile)
        return coef, keep

    def _palette(self, border: np.ndarray) -> np.ndarray:
        """The k-means colours of the border that each cover enough of it to be backdrop, ``(n, 3)`` Lab."""
        cfg = self.config
        k = min(cfg.n_colours, len(border))
        sample = border
        if len(sample) > 4000:  # k-means on a fixed subsample: deterministic and fast
            sample = sample[np.linspace(0, len(sample) - 1, 4000).astype(int)]
        criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
        cv2.setRNGSeed(0)
        _, labels, centres = cv2.kmeans(sample.astype(np.float32), k, None, criteria, 2, cv2.KMEANS_PP_CENTERS)
        share = np.bincount(labels.ravel(), minlength=k) / len(sample)
        return centres[share >= cfg.palette_min_share]
