"""Backbone factory: names, shapes, small stem, local weights in every accepted format, clear errors."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from colorvariants.errors import CheckpointError, ColorVariantsError
from colorvariants.models.backbones import (
    BACKBONES,
    SmallMapConv2d,
    create_backbone,
    feature_map,
    register_backbone,
    use_small_map_convs,
)


@pytest.fixture(scope="module")
def resnet18() -> torch.nn.Module:
    torch.manual_seed(0)
    return create_backbone("resnet18").eval()


def _batch(size: int = 32, n: int = 2) -> torch.Tensor:
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize(("name", "out_dim"), [("resnet18", 512), ("resnet34", 512), ("resnet50", 2048)])
def test_registered_resnets(name: str, out_dim: int) -> None:
    assert name in BACKBONES
    model = create_backbone(name)
    assert model.out_dim == out_dim
    assert not any(k.startswith("fc.") for k in model.state_dict())


@pytest.mark.parametrize(("small_stem", "layer1_side"), [(False, 16), (True, 64)])
def test_forward_shape_at_64px(small_stem: bool, layer1_side: int) -> None:
    """Pooled (B, 512) features either way; the small stem runs layer1 at full resolution instead of 1/4."""
    model = create_backbone("resnet18", small_stem=small_stem).eval()
    seen: list[tuple[int, ...]] = []
    model.layer1.register_forward_hook(lambda m, i, o: seen.append(tuple(o.shape)))
    with torch.no_grad():
        out = model(_batch(64))
    assert out.shape == (2, 512)
    assert seen[0][-2:] == (layer1_side, layer1_side)
    if small_stem:
        assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)
        assert isinstance(model.maxpool, torch.nn.Identity)


def test_state_dict_round_trip(tmp_path: Path, resnet18: torch.nn.Module) -> None:
    path = tmp_path / "resnet18.pth"
    torch.save(resnet18.state_dict(), path)
    loaded = create_backbone("resnet18", pretrained=path).eval()
    x = _batch()
    with torch.no_grad():
        assert torch.equal(resnet18(x), loaded(x))


def test_torchvision_file_with_classifier_loads(tmp_path: Path, resnet18: torch.nn.Module) -> None:
    state = dict(resnet18.state_dict())
    state["fc.weight"] = torch.zeros(1000, 512)
    state["fc.bias"] = torch.zeros(1000)
    torch.save(state, tmp_path / "tv.pth")
    loaded = create_backbone("resnet18", pretrained=str(tmp_path / "tv.pth")).eval()
    with torch.no_grad():
        assert torch.equal(resnet18(_batch()), loaded(_batch()))


@pytest.mark.parametrize("wrapper", ["lightning", "portable"])
def test_prefixed_checkpoints_load(tmp_path: Path, resnet18: torch.nn.Module, wrapper: str) -> None:
    state = {f"backbone.{k}": v for k, v in resnet18.state_dict().items()}
    state["projection_head.layers.0.weight"] = torch.zeros(4, 4)  # other parts of a method are ignored
    state["backbone_momentum.conv1.weight"] = torch.zeros(1)
    portable = {"format": "colorvariants.model", "version": 1, "method": "simclr", "config": {},
                "state_dict": state}
    obj = {"state_dict": state, "epoch": 3} if wrapper == "lightning" else portable
    torch.save(obj, tmp_path / "model.pt")
    loaded = create_backbone("resnet18", pretrained=tmp_path / "model.pt").eval()
    with torch.no_grad():
        assert torch.equal(resnet18(_batch()), loaded(_batch()))


def test_missing_file_says_how_to_get_weights(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "resnet18.pth"
    with pytest.raises(CheckpointError) as info:
        create_backbone("resnet18", pretrained=path)
    message = str(info.value)
    assert str(path) in message and "download" in message


def test_shape_mismatch_lists_keys(tmp_path: Path, resnet18: torch.nn.Module) -> None:
    torch.save(resnet18.state_dict(), tmp_path / "w.pth")
    with pytest.raises(CheckpointError, match=r"conv1\.weight.*small_stem"):
        create_backbone("resnet18", pretrained=tmp_path / "w.pth", small_stem=True)


def test_wrong_architecture_lists_missing_and_unexpected(tmp_path: Path, resnet18: torch.nn.Module) -> None:
    torch.save(resnet18.state_dict(), tmp_path / "w.pth")
    pattern = r"(?s)missing from the file: .*not in the model|shape mismatch"
    with pytest.raises(CheckpointError, match=pattern):
        create_backbone("resnet50", pretrained=tmp_path / "w.pth")


def test_untrusted_pickle_refused(tmp_path: Path) -> None:
    torch.save({"state_dict": {"conv1.weight": torch.zeros(1)}, "obj": Path("x")}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="weights_only"):
        create_backbone("resnet18", pretrained=tmp_path / "evil.pt")


def test_unknown_format_refused(tmp_path: Path) -> None:
    torch.save({"format": "something.else", "state_dict": {}}, tmp_path / "x.pt")
    with pytest.raises(CheckpointError, match="format"):
        create_backbone("resnet18", pretrained=tmp_path / "x.pt")


def test_unknown_name_lists_available() -> None:
    with pytest.raises(ColorVariantsError, match=r"resnet18.*resnet34.*resnet50.*timm/<model_name>"):
        create_backbone("resnet19")


@pytest.mark.skipif(importlib.util.find_spec("timm") is not None, reason="timm is installed")
def test_timm_missing_gives_install_hint() -> None:
    with pytest.raises(ColorVariantsError, match=r"pip install colorvariants\[timm\]"):
        create_backbone("timm/resnet18")


def test_register_twice_refused() -> None:
    with pytest.raises(ColorVariantsError):
        register_backbone("resnet18")(lambda small_stem=False: torch.nn.Identity())


def test_feature_map_pools_to_the_backbones_features(resnet18: torch.nn.Module) -> None:
    x = _batch(64)
    with torch.no_grad():
        fmap = feature_map(resnet18, x)
        assert fmap.shape == (2, 512, 2, 2)  # ResNet-18's last map at 64 px: what CV-SSL pools parts from
        assert torch.allclose(fmap.mean((2, 3)), resnet18(x), atol=1e-5)


@pytest.mark.parametrize("width", [1, 4])
def test_strided_conv_weight_gradient_is_right_under_cpu_bf16(width: int) -> None:
    """oneDNN's bf16 weight gradient of a 3x3/stride-2 conv over a 1-pixel-wide map is garbage (1e20, inf,
    NaN): the small-map conv computes such maps as a matmul, and the gradient is right at every width."""
    torch.manual_seed(0)
    conv = use_small_map_convs(torch.nn.Sequential(torch.nn.Conv2d(64, 64, 3, 2, 1, bias=False)))[0]
    assert isinstance(conv, SmallMapConv2d)
    x = torch.randn(32, 64, width, width)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = conv(x)
    y.float().sum().backward()
    assert y.dtype == torch.bfloat16
    expected = torch.nn.grad.conv2d_weight(x.bfloat16().float(), conv.weight.shape, torch.ones_like(y.float()),
                                           stride=2, padding=1)
    assert torch.isfinite(conv.weight.grad).all()
    assert (conv.weight.grad - expected).abs().max() <= 0.05 * expected.abs().max()


@pytest.mark.parametrize(
    ("in_size", "kwargs"),
    [
        ((2, 2), {"kernel_size": 3, "padding": 1}),  # ResNet-18's layer4 at 64 px: the matmul path
        ((4, 4), {"kernel_size": 3, "stride": 2, "padding": 1}),  # its strided entry, 4x4 -> 2x2
        ((1, 1), {"kernel_size": 3, "stride": 2, "padding": 1}),  # the bf16 NaN case
        ((1, 6), {"kernel_size": 3, "padding": 1, "bias": True}),  # narrower than the kernel, 6 positions
        ((2, 2), {"kernel_size": (3, 1), "dilation": 2, "padding": (2, 0), "bias": True}),
        ((8, 8), {"kernel_size": 3, "padding": 1}),  # 64 positions: nn.Conv2d's own path
    ],
)
def test_small_map_conv_matches_conv2d(in_size: tuple[int, int], kwargs: dict[str, object]) -> None:
    """Same outputs and gradients as ``nn.Conv2d`` (fp32), NCHW or channels_last, whichever path runs."""
    torch.manual_seed(0)
    kwargs = {"bias": False, **kwargs}
    reference = torch.nn.Conv2d(16, 24, **kwargs)  # type: ignore[arg-type]
    small = use_small_map_convs(torch.nn.Sequential(torch.nn.Conv2d(16, 24, **kwargs)))[0]  # type: ignore[arg-type]
    small.load_state_dict(reference.state_dict())
    for layout in (torch.contiguous_format, torch.channels_last):
        x = torch.randn(5, 16, *in_size).contiguous(memory_format=layout)
        assert (small._small_output(x) is None) == (in_size == (8, 8))
        xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
        ya, yb = reference(xa), small(xb)
        assert ya.shape == yb.shape
        assert torch.allclose(ya, yb, atol=1e-5)
        g = torch.randn_like(ya)
        ya.backward(g)
        yb.backward(g)
        assert xa.grad is not None and xb.grad is not None
        assert torch.allclose(xa.grad, xb.grad, atol=1e-5)
        for pa, pb in zip(reference.parameters(), small.parameters(), strict=True):
            assert pa.grad is not None and pb.grad is not None
            assert torch.allclose(pa.grad, pb.grad, atol=1e-4)
            pa.grad, pb.grad = None, None


def test_guard_keeps_state_dict_keys() -> None:
    plain = create_backbone("resnet18")
    assert isinstance(plain.layer4[0].conv1, SmallMapConv2d)  # strided 3x3
    assert isinstance(plain.layer4[0].conv2, SmallMapConv2d)  # stride 1 3x3: 2x2 maps at 64 px
    assert type(plain.layer4[0].downsample[0]) is torch.nn.Conv2d  # 1x1: untouched
    from torchvision.models import resnet18 as tv_resnet18

    assert set(plain.state_dict()) == set(tv_resnet18(weights=None).state_dict()) - {"fc.weight", "fc.bias"}


def test_small_map_conv_takes_the_matmul_path_on_4x4_maps_only_under_bf16() -> None:
    """4x4 output maps: the matmul path under bf16 autocast (faster there), oneDNN's conv in fp32; same values."""
    torch.manual_seed(0)
    reference = torch.nn.Conv2d(32, 32, 3, padding=1, bias=False)
    small = use_small_map_convs(torch.nn.Sequential(torch.nn.Conv2d(32, 32, 3, padding=1, bias=False)))[0]
    small.load_state_dict(reference.state_dict())
    x = torch.randn(4, 32, 4, 4)
    assert small._small_output(x) is None
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert small._small_output(x) == (4, 4)
        y, expected = small(x).float(), reference(x).float()
    assert (y - expected).abs().max() <= 0.02 * expected.abs().max()


def test_small_map_conv_exports_as_a_plain_conv() -> None:
    """A traced (TorchScript / ONNX) backbone keeps Conv nodes: portable graphs, whatever the map size."""
    conv = use_small_map_convs(torch.nn.Sequential(torch.nn.Conv2d(8, 8, 3, padding=1))).eval()
    x = torch.randn(2, 8, 2, 2)
    assert conv[0]._small_output(x) is not None  # eager: the matmul path
    graph = str(torch.jit.trace(conv, x).inlined_graph)
    assert "aten::_convolution" in graph and "aten::matmul" not in graph
