"""Background removal with the ``rembg`` package's salient-object models (U2-Net, ISNet, BiRefNet, ...).

An optional extra (``pip install 'colorvariants[rembg]'``), imported only when this backend is built. rembg
fetches a model's weights on first use into ``$U2NET_HOME`` (default ``~/.u2net``); we never download at run
time, so before creating a session we check that the weight file is already there and, if not, say exactly which
file to place where. A file placed beforehand is used offline (rembg checks its MD5; set
``MODEL_CHECKSUM_DISABLED=1`` for a file you converted yourself).
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from PIL import Image

from colorvariants.data.background import register_remover
from colorvariants.errors import ColorVariantsError

RELEASES_URL = "https://github.com/danielgatis/rembg/releases/download/v0.0.0/"

REMBG_WEIGHTS: dict[str, tuple[str, str]] = {
    # model name: (file rembg looks for in $U2NET_HOME, file name on rembg's release page)
    "u2net": ("u2net.onnx", "u2net.onnx"),
    "u2netp": ("u2netp.onnx", "u2netp.onnx"),
    "u2net_human_seg": ("u2net_human_seg.onnx", "u2net_human_seg.onnx"),
    "silueta": ("silueta.onnx", "silueta.onnx"),
    "isnet-general-use": ("isnet-general-use.onnx", "isnet-general-use.onnx"),
    "isnet-anime": ("isnet-anime.onnx", "isnet-anime.onnx"),
    "birefnet-general": ("birefnet-general.onnx", "BiRefNet-general-epoch_244.onnx"),
    "birefnet-general-lite": ("birefnet-general-lite.onnx", "BiRefNet-general-bb_swin_v1_tiny-epoch_232.onnx"),
    "birefnet-portrait": ("birefnet-portrait.onnx", "BiRefNet-portrait-epoch_150.onnx"),
    "birefnet-dis": ("birefnet-dis.onnx", "BiRefNet-DIS-epoch_590.onnx"),
    "birefnet-hrsod": ("birefnet-hrsod.onnx", "BiRefNet-HRSOD_DHU-epoch_115.onnx"),
    "birefnet-massive": ("birefnet-massive.onnx", "BiRefNet-massive-TR_DIS5K_TR_TEs-epoch_420.onnx"),
}
"""Single-output salient-object models. ``sam`` (needs prompts) and ``u2net_cloth_seg`` (three part masks) do
not give one garment mask and are left out."""


def u2net_home() -> Path:
    """The folder rembg reads weights from: ``$U2NET_HOME``, else ``$XDG_DATA_HOME/.u2net``, else ``~/.u2net``."""
    default = os.path.join(os.environ.get("XDG_DATA_HOME", "~"), ".u2net")
    return Path(os.path.expanduser(os.environ.get("U2NET_HOME", default)))


def weight_path(model: str) -> Path:
    """Where the weight file of ``model`` must be for rembg to run without downloading."""
    if model not in REMBG_WEIGHTS:
        raise ColorVariantsError(f"unknown rembg model {model!r}. Fix: choose one of {sorted(REMBG_WEIGHTS)}.")
    return u2net_home() / REMBG_WEIGHTS[model][0]


def _import_rembg() -> ModuleType:
    try:
        return importlib.import_module("rembg")
    except ImportError as exc:
        raise ColorVariantsError(
            f"background remover 'rembg' needs the rembg package, which is not installed ({exc}). "
            "Fix: pip install 'colorvariants[rembg]' (or pip install rembg onnxruntime), "
            "or use an offline backend: --remove-background floodfill or grabcut."
        ) from exc


@dataclass
class RembgConfig:
    """Knobs of the rembg backend.

    Attributes:
        model: a key of ``REMBG_WEIGHTS`` (``u2net`` is rembg's default).
        threshold: the model's soft mask (0..255) above this is garment.
        post_process_mask: rembg's own morphological smoothing of the mask.
    """

    model: str = "u2net"
    threshold: int = 127
    post_process_mask: bool = False


@register_remover("rembg")
class RembgRemover:
    """Foreground mask from a rembg model; the session is created once per remover (per worker process).

    Raises (at construction):
        ColorVariantsError: rembg not installed (says how to install it), unknown model, or the weight file not
            in ``$U2NET_HOME`` (names the exact path to place it at and where to get it).
    """

    config_class = RembgConfig

    def __init__(self, config: RembgConfig | None = None) -> None:
        self.config = config or RembgConfig()
        path = weight_path(self.config.model)  # unknown model: fail before anything heavy
        self._rembg = _import_rembg()
        if not path.is_file():
            release_name = REMBG_WEIGHTS[self.config.model][1]
            raise ColorVariantsError(
                f"rembg model {self.config.model!r} needs its weights at {path}, which does not exist; "
                "colorvariants never downloads at run time. "
                f"Fix: on a machine with internet, download {RELEASES_URL}{release_name} and place it at "
                f"{path} (or set U2NET_HOME to the folder that holds {path.name})."
            )
        self._session: Any = self._rembg.new_session(self.config.model)

    def mask(self, image: Image.Image) -> np.ndarray:
        """``uint8 (H, W)`` 0/255 mask of the salient object at the image's own size."""
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        out = self._rembg.remove(
            rgb, session=self._session, only_mask=True, post_process_mask=self.config.post_process_mask
        )
        soft = np.asarray(out.convert("L") if isinstance(out, Image.Image) else out)
        if soft.ndim == 3:
            soft = soft[..., -1]
        if soft.shape != (rgb.height, rgb.width):
            soft = np.asarray(Image.fromarray(soft).resize(rgb.size, Image.Resampling.BILINEAR))
        return np.where(soft > self.config.threshold, 255, 0).astype(np.uint8)
