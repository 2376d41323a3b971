"""The rembg backend: clear errors without the package or the weights, never a download, the real call shape.

rembg is not installed in CI, so a stand-in module with rembg's API (``new_session``, ``remove``) checks how we
call it; the missing-package test hides any real install.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from colorvariants.data.background import RembgConfig, RembgRemover, create_remover
from colorvariants.data.background.rembg_backend import RELEASES_URL, u2net_home, weight_path
from colorvariants.errors import ColorVariantsError


class FakeRembg(types.ModuleType):
    """rembg's surface: ``new_session(name)`` and ``remove(img, session=, only_mask=, post_process_mask=)``."""

    def __init__(self) -> None:
        super().__init__("rembg")
        self.sessions: list[str] = []
        self.calls: list[dict[str, Any]] = []

    def new_session(self, model_name: str) -> str:
        self.sessions.append(model_name)
        return f"session:{model_name}"

    def remove(self, img: Image.Image, **kwargs: Any) -> Image.Image:
        self.calls.append(kwargs)
        soft = np.zeros((img.height, img.width), np.uint8)
        soft[:, : img.width // 2] = 200  # left half salient
        soft[:, img.width // 2 : img.width // 2 + 2] = 100  # a soft edge below the threshold
        return Image.fromarray(soft, mode="L")


@pytest.fixture
def fake_rembg(monkeypatch: pytest.MonkeyPatch) -> FakeRembg:
    module = FakeRembg()
    monkeypatch.setitem(sys.modules, "rembg", module)
    return module


@pytest.fixture
def u2net_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "u2net"
    home.mkdir()
    monkeypatch.setenv("U2NET_HOME", str(home))
    return home


def test_missing_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch, u2net_dir: Path) -> None:
    monkeypatch.setitem(sys.modules, "rembg", None)  # makes `import rembg` fail even where it is installed
    (u2net_dir / "u2net.onnx").write_bytes(b"weights")
    with pytest.raises(ColorVariantsError) as info:
        create_remover("rembg")
    assert "pip install 'colorvariants[rembg]'" in str(info.value)
    assert "floodfill" in str(info.value)  # and the offline alternative


@pytest.mark.parametrize("model", ["u2net", "isnet-general-use", "birefnet-general"])
def test_missing_weights_name_the_exact_path(fake_rembg: FakeRembg, u2net_dir: Path, model: str) -> None:
    with pytest.raises(ColorVariantsError) as info:
        RembgRemover(RembgConfig(model=model))
    message = str(info.value)
    assert str(u2net_dir / f"{model}.onnx") in message
    assert RELEASES_URL in message
    assert fake_rembg.sessions == []  # no session was created: rembg would have downloaded


def test_unknown_model_lists_the_known_ones(fake_rembg: FakeRembg, u2net_dir: Path) -> None:
    with pytest.raises(ColorVariantsError, match="u2netp"):
        create_remover("rembg", model="u3net")


def test_with_weights_in_place_masks_through_rembg(fake_rembg: FakeRembg, u2net_dir: Path) -> None:
    (u2net_dir / "isnet-general-use.onnx").write_bytes(b"weights")
    remover = create_remover("rembg", model="isnet-general-use")
    mask = remover.mask(Image.new("RGB", (40, 30), (10, 20, 30)))
    assert fake_rembg.sessions == ["isnet-general-use"]
    assert fake_rembg.calls[0]["only_mask"] is True
    assert fake_rembg.calls[0]["session"] == "session:isnet-general-use"
    assert mask.dtype == np.uint8 and mask.shape == (30, 40)
    assert (mask[:, :20] == 255).all() and (mask[:, 20:] == 0).all()  # thresholded at 127


def test_u2net_home_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("U2NET_HOME", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert u2net_home() == tmp_path / ".u2net"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert weight_path("u2netp") == tmp_path / "data" / ".u2net" / "u2netp.onnx"
