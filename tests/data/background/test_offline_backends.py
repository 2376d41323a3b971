"""The offline backends (floodfill, grabcut) find a garment of known shape on studio backdrops; the registry."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from colorvariants.data.background import (
    BACKGROUND_REMOVERS,
    FloodFillConfig,
    FloodFillRemover,
    GrabCutConfig,
    GrabCutRemover,
    create_remover,
    mask_iou,
    register_remover,
)
from colorvariants.errors import ColorVariantsError

W, H = 160, 200


def _backdrop(kind: str, rng: np.random.Generator) -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    if kind == "plain":
        base = np.broadcast_to(np.array([244.0, 244.0, 242.0]), (H, W, 3))
    elif kind == "gradient":  # lit from above: white to blue-grey
        t = (yy / H)[..., None]
        base = np.array([252.0, 252.0, 252.0]) * (1 - t) + np.array([175.0, 185.0, 200.0]) * t
    elif kind == "radial":  # a spotlight: bright centre, darker corners
        r = (np.hypot(xx - W / 2, yy - H / 2) / max(W, H))[..., None]
        base = np.array([242.0, 238.0, 232.0]) - r * np.array([130.0, 130.0, 120.0])
    else:  # "twotone": wall and floor
        base = np.where((yy > 0.75 * H)[..., None], np.array([150.0, 140.0, 120.0]), np.array([232.0, 232.0, 236.0]))
    return np.clip(base + rng.normal(0, 2.0, (H, W, 3)), 0, 255).astype(np.uint8)


def _shirt(down: float = 0.0) -> np.ndarray:
    """A T-shirt silhouette (body, sleeves) as a 0/255 mask; ``down`` moves it towards the bottom edge."""
    cx, s = W / 2, 1.0
    pts = [(-0.18, 0.15), (-0.05, 0.12), (0.05, 0.12), (0.18, 0.15), (0.36, 0.30), (0.28, 0.38), (0.2, 0.32),
           (0.2, 0.85), (-0.2, 0.85), (-0.2, 0.32), (-0.28, 0.38), (-0.36, 0.30)]
    m = Image.new("L", (W, H), 0)
    ImageDraw.Draw(m).polygon([(cx + x * W * s, (y + down) * H) for x, y in pts], fill=255)
    return np.asarray(m)


def studio_photo(
    kind: str, colour: tuple[int, int, int], down: float = 0.0, seed: int = 0
) -> tuple[Image.Image, np.ndarray]:
    """A product photo (garment with a white print on a backdrop) and its true mask."""
    rng = np.random.default_rng(seed)
    truth = _shirt(down)
    garment = Image.new("RGB", (W, H), colour)
    ImageDraw.Draw(garment).rectangle([0.42 * W, 0.42 * H, 0.58 * W, 0.52 * H], fill=(255, 255, 255))
    photo = Image.fromarray(_backdrop(kind, rng))
    photo.paste(garment, mask=Image.fromarray(truth))
    return photo, truth


class TestStudioBackdrops:
    @pytest.mark.parametrize("kind", ["plain", "gradient", "twotone"])
    @pytest.mark.parametrize("colour", [(200, 30, 30), (25, 25, 25)])
    @pytest.mark.parametrize("backend", ["floodfill", "grabcut"])
    def test_mask_matches_known_shape(self, backend: str, kind: str, colour: tuple[int, int, int]) -> None:
        photo, truth = studio_photo(kind, colour)
        mask = create_remover(backend).mask(photo)
        assert mask_iou(mask, truth) > 0.95

    def test_white_print_inside_garment_is_kept(self) -> None:
        # The print is the backdrop's colour but enclosed by the garment: only border-connected regions go.
        photo, truth = studio_photo("plain", (30, 60, 200))
        mask = FloodFillRemover().mask(photo)
        assert mask[int(0.47 * H), int(0.5 * W)] == 255

    def test_floodfill_keeps_garment_cut_by_bottom_edge(self) -> None:
        photo, truth = studio_photo("plain", (30, 120, 60), down=0.25)
        assert truth[-1].any()  # the garment really reaches the edge
        assert mask_iou(FloodFillRemover().mask(photo), truth) > 0.95

    def test_floodfill_leaves_out_the_cast_shadow_of_a_jpeg(self) -> None:
        photo, truth = studio_photo("plain", (200, 30, 30))
        alpha = truth.astype(np.float32) / 255.0
        shifted = cv2.warpAffine(alpha, np.float32([[1, 0, 3], [0, 1, 6]]), (W, H))
        shadow = cv2.GaussianBlur(shifted, (0, 0), 5) * 0.35 * (1.0 - alpha)  # soft, down-right, on the backdrop
        shaded = (np.asarray(photo, np.float32) * (1.0 - shadow[..., None])).clip(0, 255).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(shaded).save(buf, format="JPEG", quality=75)  # chroma bleeds around the outline
        jpeg = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
        assert mask_iou(FloodFillRemover().mask(jpeg), truth) > 0.94
        # both the shadow growth and the outline refinement are needed for that (0.84 and 0.88 without)
        assert mask_iou(FloodFillRemover(FloodFillConfig(shadow_min_brightness=1.0)).mask(jpeg), truth) < 0.9

    def test_grabcut_seeded_from_floodfill_handles_spotlight(self) -> None:
        photo, truth = studio_photo("radial", (200, 30, 30))
        assert mask_iou(GrabCutRemover().mask(photo), truth) > 0.95

    def test_grabcut_default_keeps_garment_in_the_border_band(self) -> None:
        photo, truth = studio_photo("plain", (30, 120, 60), down=0.25)
        assert mask_iou(GrabCutRemover().mask(photo), truth) > 0.99
        # the bare rectangle declares the band background and cuts the hem off
        assert mask_iou(GrabCutRemover(GrabCutConfig(init_from_floodfill=False)).mask(photo), truth) < 0.98

    @pytest.mark.parametrize("kind", ["plain", "gradient"])
    def test_grabcut_rectangle_only(self, kind: str) -> None:
        photo, truth = studio_photo(kind, (30, 60, 200))
        mask = GrabCutRemover(GrabCutConfig(init_from_floodfill=False)).mask(photo)
        assert mask_iou(mask, truth) > 0.95


class TestMaskContract:
    @pytest.mark.parametrize("backend", ["floodfill", "grabcut"])
    def test_uint8_binary_at_image_size_beyond_work_resolution(self, backend: str) -> None:
        photo, truth = studio_photo("plain", (200, 30, 30))
        big = photo.resize((W * 4, H * 4), Image.Resampling.BILINEAR)  # above max_side: worked on smaller
        mask = create_remover(backend).mask(big)
        assert mask.dtype == np.uint8 and mask.shape == (H * 4, W * 4)
        assert set(np.unique(mask).tolist()) <= {0, 255}
        up = np.asarray(Image.fromarray(truth).resize((W * 4, H * 4), Image.Resampling.NEAREST))
        assert mask_iou(mask, up) > 0.95

    @pytest.mark.parametrize("backend", ["floodfill", "grabcut"])
    def test_no_garment_keeps_everything(self, backend: str) -> None:
        flat = Image.new("RGB", (W, H), (240, 240, 240))
        mask = create_remover(backend).mask(flat)
        assert (mask == 255).all()  # removing nothing is safer than blanking a product

    def test_floodfill_is_deterministic(self) -> None:
        photo, _ = studio_photo("twotone", (90, 40, 140))
        r = FloodFillRemover(FloodFillConfig(max_side=128))
        assert np.array_equal(r.mask(photo), r.mask(photo))


class TestRegistry:
    def test_registered_backends(self) -> None:
        assert {"floodfill", "grabcut", "rembg"} <= set(BACKGROUND_REMOVERS)

    def test_unknown_backend_lists_choices(self) -> None:
        with pytest.raises(ColorVariantsError, match="floodfill"):
            create_remover("magic")

    def test_unknown_option_lists_fields(self) -> None:
        with pytest.raises(ColorVariantsError, match="tolerance"):
            create_remover("floodfill", tolerence=3)

    def test_options_reach_the_config(self) -> None:
        remover = create_remover("grabcut", iterations=2)
        assert isinstance(remover, GrabCutRemover) and remover.config.iterations == 2

    def test_duplicate_name_refused(self) -> None:
        with pytest.raises(ValueError, match="twice"):
            register_remover("floodfill")(FloodFillRemover)
