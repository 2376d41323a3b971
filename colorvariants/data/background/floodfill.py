"""Offline background removal for studio photos: grow the background inward from the image border.

Catalog photos are shot on a backdrop that fills the border: plain, a lighting gradient, or two tones (wall and
floor). We model the backdrop from a border strip twice, as a smooth colour field (a low-order polynomial in
``(x, y)`` per CIE Lab channel, fitted robustly so a garment touching the edge does not bend it) and as a small
palette (k-means of the border), call a pixel background-like when either model explains its colour within a
tolerance learned from the border's own noise, and keep as background only what connects to the border. Two
refinements follow: the garment's soft cast shadow (a darker copy of the backdrop, reached without crossing a
sharp edge) joins the background, and the outline band is reassigned by local colour (JPEG chroma bleed). The
garment is the rest, cleaned morphologically and reduced to its largest connected part. No weights, no network.

Limits (measured in BENCHMARKS.md): a garment the colour of the backdrop (white on white) cannot be separated
and the whole frame is kept; backdrop enclosed by the garment (inside a bag's handle) stays foreground; busy
textured scenes whose colours recur in the garment leak. GrabCut seeded with this mask, or a salient-object
model (``rembg``), does better there.
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
        shadow_min_brightness: the garment's cast shadow is grown into the backdrop when it keeps at least this
            share of the backdrop's brightness; 1.0 turns shadow handling off.
        edge_gradient: lightness change per work pixel (L*) above which a pixel is an edge that shadow growth
            does not cross (shadows are soft, garment outlines are steps).
        max_shadow_share: shadow growth that would remove more than this share of the foreground is taken as a
            leak into the garment (a grey garment on white) and undone.
        edge_refine_px: width (work pixels) of the outline band reassigned by local colour (JPEG chroma bleed and
            anti-aliasing); 0 turns it off.
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
    shadow_min_brightness: float = 0.6
    edge_gradient: float = 3.0
    max_shadow_share: float = 0.4
    edge_refine_px: int = 2
    inlier_quantile: float = 0.6
    kernel_frac: float = 0.01
    min_area_frac: float = 0.005


def _poly_features(x: np.ndarray, y: np.ndarray, degree: int) -> np.ndarray:
    """Monomials ``x^i y^j`` with ``i + j <= degree`` as columns (x, y in [-1, 1] keep it well conditioned)."""
    cols = [x**i * y**j for total in range(degree + 1) for i in range(total + 1) for j in [total - i]]
    return np.stack(cols, axis=-1)


def _sq_dist(image: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Squared colour distance per pixel between ``(h, w, 3)`` and a broadcastable reference."""
    d = image - ref
    return np.einsum("ijk,ijk->ij", d, d)


def _frame(h: int, w: int) -> np.ndarray:
    """The outermost ring of pixels."""
    frame = np.zeros((h, w), bool)
    frame[0], frame[-1], frame[:, 0], frame[:, -1] = True, True, True, True
    return frame


def _connected_to(region: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """The 4-connected components of ``region`` that contain a pixel of ``seeds``."""
    _, labels = cv2.connectedComponents(region.astype(np.uint8), connectivity=4)
    hit = np.unique(labels[seeds & region])
    return np.isin(labels, hit[hit > 0])


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
        if cfg.edge_refine_px > 0:
            background = self._refine_edge(background, rgb)
        fg = np.where(background, 0, 255).astype(np.uint8)
        fg = clean_mask(fg, kernel_frac=cfg.kernel_frac, keep_largest=True)
        if (fg > 0).mean() < cfg.min_area_frac:
            fg = np.full_like(fg, 255)
        return resize_mask(fg, image.size)

    def background_region(self, rgb: np.ndarray) -> np.ndarray:
        """Boolean ``(h, w)``: pixels that look like the backdrop (or its shadow) and connect to the border."""
        cfg = self.config
        h, w = rgb.shape[:2]
        short = min(h, w)
        sigma = max(0.5, cfg.blur_frac * short)
        smooth = cv2.GaussianBlur(rgb, (0, 0), sigmaX=sigma, sigmaY=sigma).astype(np.float32) / 255.0
        lab = cv2.cvtColor(smooth, cv2.COLOR_RGB2Lab)
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

        # Backdrop hypotheses: the smooth field, and each palette colour (two-tone sets).
        refs = [model]
        if cfg.n_colours > 0:
            refs += [c.reshape(1, 1, 3) for c in self._palette(border_lab)]
        # The blurred image reads a textured backdrop as one region; the raw one keeps the garment's edge sharp
        # (blur alone would bleed the garment's colour a few pixels into the backdrop and dilate the mask).
        candidate = np.zeros((h, w), bool)
        for img in (lab, raw_lab):
            for ref in refs:
                candidate |= _sq_dist(img, ref) < tol * tol
        background = _connected_to(candidate, _frame(h, w))
        if cfg.shadow_min_brightness < 1.0:
            background = self._grow_into_shadows(background, smooth, lab, refs, tol)
        return background

    def _grow_into_shadows(
        self, background: np.ndarray, smooth: np.ndarray, lab: np.ndarray, refs: list[np.ndarray], tol: float
    ) -> np.ndarray:
        """Add the garment's cast shadow: darker copies of the backdrop reached without crossing an edge.

        A shadow multiplies the backdrop's RGB by a factor (for any power-law gamma), so a shadow pixel matches
        ``s * backdrop`` for some ``s`` in ``[shadow_min_brightness, 1]``; a grey garment on white matches too,
        which is why growth only crosses smooth ground (shadows are soft, garment edges are steps) and is
        abandoned when it would take more than ``max_shadow_share`` of the foreground.
        """
        cfg = self.config
        shadow_like = np.zeros(background.shape, bool)
        for ref in refs:
            ref_rgb = cv2.cvtColor(np.ascontiguousarray(ref, dtype=np.float32), cv2.COLOR_Lab2RGB)
            scale = (smooth * ref_rgb).sum(axis=2) / np.maximum((ref_rgb * ref_rgb).sum(axis=2), 1e-6)
            scale = np.clip(scale, cfg.shadow_min_brightness, 1.0)[..., None]
            shadowed = cv2.cvtColor((scale * ref_rgb).astype(np.float32), cv2.COLOR_RGB2Lab)
            shadow_like |= _sq_dist(lab, shadowed) < tol * tol
        lightness = np.ascontiguousarray(lab[..., 0])
        gx = cv2.Sobel(lightness, cv2.CV_32F, 1, 0, ksize=3) / 8.0  # L* per pixel
        gy = cv2.Sobel(lightness, cv2.CV_32F, 0, 1, ksize=3) / 8.0
        smooth_ground = np.hypot(gx, gy) < cfg.edge_gradient
        grown = _connected_to(background | (shadow_like & smooth_ground), background)
        if (grown & ~background).sum() > cfg.max_shadow_share * max(1, (~background).sum()):
            return background  # leaked into the garment: keep the shadow rather than lose the product
        return grown

    def _refine_edge(self, background: np.ndarray, rgb: np.ndarray) -> np.ndarray:
        """Reassign the outline band to whichever side it looks like, locally.

        JPEG's half-resolution chroma and anti-aliasing tint the backdrop a pixel or two around the garment, so
        the tolerance test leaves a thin halo. Each foreground pixel within ``edge_refine_px`` of the backdrop is
        compared with the mean colour of the nearby backdrop and of the nearby garment interior, and goes to the
        nearer one.
        """
        px = self.config.edge_refine_px
        lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
        fg = ~background
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1))
        inner = cv2.erode(fg.astype(np.uint8), kernel) > 0
        band = fg & ~inner
        if not inner.any() or not band.any():
            return background
        sigma = 1.5 * px

        def local_mean(region: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            weight = cv2.GaussianBlur(region.astype(np.float32), (0, 0), sigma)
            total = cv2.GaussianBlur(lab * region[..., None].astype(np.float32), (0, 0), sigma)
            return total / np.maximum(weight, 1e-6)[..., None], weight

        bg_ref, bg_w = local_mean(background)
        fg_ref, fg_w = local_mean(inner)
        closer_to_bg = _sq_dist(lab, bg_ref) < _sq_dist(lab, fg_ref)
        flip = band & closer_to_bg & (bg_w > 0.05) & (fg_w > 0.05)
        return background | flip

    def _robust_fit(self, feats: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Least squares of Lab on the monomials, refitted on the best-explained border pixels (trimmed LS)."""
        feats64 = feats.astype(np.float64)
        values64 = values.astype(np.float64)
        keep = np.ones(len(values), bool)
        coef: np.ndarray = np.zeros((feats.shape[1], 3))
        ridge = 1e-6 * np.eye(feats.shape[1])  # a few monomials on [-1, 1]: the normal equations are well posed
        for _ in range(3):
            x = feats64[keep]
            coef = np.linalg.solve(x.T @ x + ridge, x.T @ values64[keep])
            resid = np.linalg.norm(values64 - feats64 @ coef, axis=1)
            keep = resid <= np.quantile(resid, self.config.inlier_quantile)
        return coef.astype(np.float32), keep

    def _palette(self, border: np.ndarray) -> np.ndarray:
        """The k-means colours of the border that each cover enough of it to be backdrop, ``(n, 3)`` Lab."""
        cfg = self.config
        k = min(cfg.n_colours, len(border))
        sample = border
        if len(sample) > 4000:  # k-means on a fixed subsample: deterministic and fast
            sample = sample[np.linspace(0, len(sample) - 1, 4000).astype(int)]
        criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
        cv2.setRNGSeed(0)
        # OpenCV's stubs want an array for bestLabels; None (no initial labels) is what the C++ API takes.
        _, labels, centres = cv2.kmeans(  # type: ignore[call-overload]
            sample.astype(np.float32), k, None, criteria, 2, cv2.KMEANS_PP_CENTERS
        )
        share = np.bincount(labels.ravel(), minlength=k) / len(sample)
        return centres[share >= cfg.palette_min_share]
