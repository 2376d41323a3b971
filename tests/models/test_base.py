"""EmbeddingModule's shared machinery: online validation never hides a diverged run."""

from __future__ import annotations

import logging

import pytest
import torch

from colorvariants.models.registry import build_method


def test_validation_with_nan_embeddings_warns_and_logs_nan(monkeypatch: pytest.MonkeyPatch,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    module = build_method("triplet", {"image_size": 32})
    logged: dict[str, float] = {}
    monkeypatch.setattr(module, "log", lambda name, value, **kw: logged.__setitem__(name, value))
    monkeypatch.setattr(type(module), "trainer", property(lambda self: None))
    emb = torch.randn(8, 4)
    emb[3, 1] = float("nan")
    module._val_embeddings = [emb]
    module._val_styles = [torch.arange(4).repeat(2)]
    module._val_products = [torch.arange(8)]
    with caplog.at_level(logging.WARNING):
        module.on_validation_epoch_end()
    assert "diverged" in caplog.text and "learning rate" in caplog.text
    assert logged.keys() == {"val/recall@1"} and logged["val/recall@1"] != logged["val/recall@1"]  # NaN


def test_validation_logs_recall_of_finite_embeddings(monkeypatch: pytest.MonkeyPatch) -> None:
    module = build_method("triplet", {"image_size": 32})
    logged: dict[str, float] = {}
    monkeypatch.setattr(module, "log", lambda name, value, **kw: logged.__setitem__(name, value))
    monkeypatch.setattr(type(module), "trainer", property(lambda self: None))
    styles = torch.arange(4).repeat(2)
    module._val_embeddings = [torch.nn.functional.one_hot(styles, 4).float()]  # perfectly clustered by style
    module._val_styles = [styles]
    module._val_products = [torch.arange(8)]
    module.on_validation_epoch_end()
    assert logged["val/recall@1"] == pytest.approx(1.0)


def test_uint8_batches_reach_the_views_at_the_training_size() -> None:
    """Every method's views take uint8 at ``image_size``: passed through when the cache holds that size, else
    resized as ``to_float`` resizes (antialiased bilinear), rounded back to uint8."""
    module = build_method("simclr", {"image_size": 32})
    same = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    assert module.to_uint8_sized(same) is same
    larger = torch.randint(0, 256, (2, 3, 48, 48), dtype=torch.uint8)
    out = module.to_uint8_sized(larger)
    assert out.dtype == torch.uint8 and out.shape == (2, 3, 32, 32)
    expected = torch.nn.functional.interpolate(larger.float() / 255, size=(32, 32), mode="bilinear",
                                               align_corners=False, antialias=True)
    assert (out.float() - expected * 255).abs().max() <= 0.5 + 1e-3
    flat = torch.full((1, 3, 48, 48), 77, dtype=torch.uint8)
    assert torch.equal(module.to_uint8_sized(flat), torch.full((1, 3, 32, 32), 77, dtype=torch.uint8))
