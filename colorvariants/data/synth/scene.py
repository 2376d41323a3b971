"""Photograph a product: pose, background, shadow, lighting, sensor noise and JPEG, drawn per image.

These are the nuisances a retrieval model must ignore. Backgrounds are random (studio colours, gradients,
textured "lifestyle" scenes) so they carry no information about the design, and lighting changes brightness
and white balance, so even one product's photos differ in colour.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from colorvariants.data.synth.config import SynthConfig

STUDIO_WHITE = 0.96
# Probabilities of the background kinds (studio shots dominate real catalogs).
BACKGROUNDS: dict[str, float] = {"plain": 0.3, "gradient": 0.25, "textured": 0.2, "room": 0.15, "planks": 0.1}


@dataclass(frozen=True)
class Photo:
    """One image: uint8 RGB ``(S, S, 3)``, its foreground mask (bool ``(S, S)``) and JPEG quality."""

    image: np.ndarray
    mask: np.ndarray
    quality: int

    def bbox(self) -> tuple[int, int, int, int]:
        """The product's box ``(x0, y0, x1, y1)`` in pixels, end-exclusive (as ``PIL.Image.crop`` takes)."""
        ys, xs = np.nonzero(self.mask)
        if len(xs) == 0:
            h, w = self.mask.shape
            return 0, 0, w, h
        return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1

    def jpeg(self) -> bytes:
        """The image encoded as JPEG at ``quality`` (deterministic: same pixels, same bytes)."""
        buf = io.BytesIO()
        Image.fromarray(self.image).save(buf, format="JPEG", quality=self.quality)
        return buf.getvalue()

    def mask_png(self) -> bytes:
        """The mask as an 8-bit PNG, 255 = garment, 0 = background."""
        buf = io.BytesIO()
        Image.fromarray(self.mask.astype(np.uint8) * 255).save(buf, format="PNG")
        return buf.getvalue()


def photograph(rgb: np.ndarray, alpha: np.ndarray, rng: np.random.Generator, config: SynthConfig) -> Photo:
    """Place a product (premultiplied ``rgb``, ``alpha`` from ``colourize``) in a random scene.

    With ``config.nuisance`` off: canonical pose on studio white, no lighting or noise, top JPEG quality.
    """
    size = alpha.shape[0]
    if not config.nuisance:
        image = STUDIO_WHITE * (1.0 - alpha[..., None]) + rgb
        return Photo(_to_uint8(image), alpha >= 0.5, config.jpeg_quality[1])
    matrix = _pose(alpha, rng, config)
    flags, border = cv2.INTER_LINEAR, cv2.BORDER_CONSTANT
    rgb = cv2.warpAffine(rgb, matrix, (size, size), flags=flags, borderMode=border, borderValue=0)
    alpha = cv2.warpAffine(alpha, matrix, (size, size), flags=flags, borderMode=border, borderValue=0)
    kinds = list(BACKGROUNDS)
    kind = kinds[int(rng.choice(len(kinds), p=np.array(list(BACKGROUNDS.values()))))]
    background = _background(kind, size, rng)
    if kind in ("plain", "gradient", "room") and rng.random() < 0.8:
        background = background * (1.0 - _shadow(alpha, rng)[..., None])
    image = background * (1.0 - alpha[..., None]) + rgb
    image = _lighting(image, rng)
    image = image + rng.normal(0.0, rng.uniform(0.0, 0.012), image.shape).astype(np.float32)
    quality = int(rng.integers(config.jpeg_quality[0], config.jpeg_quality[1] + 1))
    return Photo(_to_uint8(image), alpha >= 0.5, quality)


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)


def _pose(alpha: np.ndarray, rng: np.random.Generator, config: SynthConfig) -> np.ndarray:
    """A small rotation, scale, aspect and shift that keeps the product inside the frame."""
    size = alpha.shape[0]
    angle = float(rng.uniform(-config.rotation_deg, config.rotation_deg))
    scale = float(rng.uniform(*config.scale))
    matrix = np.asarray(cv2.getRotationMatrix2D((size / 2.0, size / 2.0), angle, scale), dtype=np.float64)
    aspect = float(rng.uniform(0.96, 1.04))
    matrix[0, :] *= aspect
    matrix[0, 2] += size / 2.0 * (1.0 - aspect)
    ys, xs = np.nonzero(alpha > 0.02)
    corners = np.array([[xs.min(), ys.min(), 1], [xs.max() + 1, ys.min(), 1], [xs.min(), ys.max() + 1, 1],
                        [xs.max() + 1, ys.max() + 1, 1]], dtype=np.float64)
    moved = corners @ matrix.T
    margin = 1.0
    for axis in (0, 1):
        lo = margin - moved[:, axis].min()  # the smallest shift that keeps the box inside
        hi = size - margin - moved[:, axis].max()
        want = float(rng.uniform(-config.shift, config.shift)) * size
        matrix[axis, 2] += (lo + hi) / 2.0 if lo > hi else min(max(want, lo), hi)
    return matrix


def _shadow(alpha: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    size = alpha.shape[0]
    dx, dy = rng.uniform(-0.03, 0.03) * size, rng.uniform(0.0, 0.05) * size
    shifted = cv2.warpAffine(alpha, np.array([[1, 0, dx], [0, 1, dy]], dtype=np.float32), (size, size))
    blurred = cv2.GaussianBlur(shifted, (0, 0), rng.uniform(0.02, 0.05) * size)
    return (rng.uniform(0.15, 0.4) * blurred).astype(np.float32)


def _random_colour(
    rng: np.random.Generator, value: tuple[float, float], saturation: tuple[float, float]
) -> np.ndarray:
    hsv = np.array(
        [[[rng.integers(180), rng.uniform(*saturation) * 255, rng.uniform(*value) * 255]]], dtype=np.float64
    ).astype(np.uint8)  # truncated to whole levels, as np.uint8(list) does
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32) / 255.0


def _studio_colour(rng: np.random.Generator) -> np.ndarray:
    r = rng.random()
    if r < 0.6:  # white and light grey sweeps
        grey = np.full(3, rng.uniform(0.82, 0.98), dtype=np.float32)
        return grey + rng.normal(0, 0.01, 3).astype(np.float32)
    if r < 0.85:  # pastel paper
        return _random_colour(rng, (0.75, 0.95), (0.1, 0.35))
    return _random_colour(rng, (0.12, 0.45), (0.0, 0.5))  # dark studio


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    c = (np.arange(size, dtype=np.float32) + 0.5) / size
    return np.meshgrid(c, c)


def _smooth_noise(rng: np.random.Generator, size: int, cells: int, channels: int = 1) -> np.ndarray:
    low = rng.normal(0.0, 1.0, (cells, cells, channels)).astype(np.float32)
    up = cv2.resize(low, (size, size), interpolation=cv2.INTER_CUBIC)
    return up.reshape(size, size, channels)


def _background(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """A background of ``kind`` as float32 (S, S, 3) in [0, 1]."""
    u, v = _grid(size)
    if kind == "plain":
        bg = np.broadcast_to(_studio_colour(rng), (size, size, 3)).copy()
    elif kind == "gradient":
        a = _studio_colour(rng)
        b = _studio_colour(rng) if rng.random() < 0.5 else a * rng.uniform(0.7, 0.9)
        t = rng.uniform(0, 2 * math.pi)
        ramp = np.clip(0.5 + (u - 0.5) * math.cos(t) + (v - 0.5) * math.sin(t), 0.0, 1.0)[..., None]
        bg = a * (1.0 - ramp) + b * ramp
    elif kind == "textured":
        # Blotches between two colours (foliage, a wall, fabric) plus fine grain.
        a, b = _random_colour(rng, (0.25, 0.9), (0.05, 0.6)), _random_colour(rng, (0.25, 0.9), (0.05, 0.6))
        mix = np.clip(0.5 + 0.5 * _smooth_noise(rng, size, int(rng.integers(3, 8))), 0.0, 1.0)
        bg = a * (1.0 - mix) + b * mix + _smooth_noise(rng, size, size // 4) * 0.03
    elif kind == "room":
        wall = _random_colour(rng, (0.55, 0.95), (0.0, 0.4))
        floor = _random_colour(rng, (0.2, 0.7), (0.0, 0.5))
        horizon = rng.uniform(0.55, 0.8)
        vv = v[..., None]
        floor_shade = 0.85 + 0.15 * (vv - horizon) / (1 - horizon)
        bg = np.where(vv > horizon, floor * floor_shade, wall * (1.02 - 0.1 * vv))
        bg = bg + _smooth_noise(rng, size, 6) * 0.02
    elif kind == "planks":
        wood = _random_colour(rng, (0.3, 0.8), (0.2, 0.6))
        width = rng.uniform(0.12, 0.25)
        across = v if rng.random() < 0.5 else u
        plank = np.floor(across / width)
        shade = 0.85 + 0.15 * np.sin(plank * 12.9898 + rng.uniform(0, 6.28)) ** 2
        seam = (across / width) % 1.0 < 0.04
        grain = _smooth_noise(rng, size, size // 3)[..., 0] * 0.04
        bg = wood * (shade * np.where(seam, 0.7, 1.0) + grain)[..., None]
    else:
        raise ValueError(f"unknown background {kind!r}")
    return np.clip(bg, 0.0, 1.0).astype(np.float32)


def _lighting(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Brightness, a directional fall-off and a white-balance cast, applied to the whole photo."""
    size = image.shape[0]
    u, v = _grid(size)
    t = rng.uniform(0, 2 * math.pi)
    ramp = (u - 0.5) * math.cos(t) + (v - 0.5) * math.sin(t)
    gain = rng.uniform(0.85, 1.12) * (1.0 + rng.uniform(0.0, 0.18) * ramp)
    balance = (1.0 + rng.normal(0.0, 0.03, 3)).astype(np.float32)
    return image * gain[..., None].astype(np.float32) * balance
