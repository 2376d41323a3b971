"""Backbone factory: ``create_backbone(name, pretrained=path, small_stem=...)`` over a registry, as in timm.

A backbone maps a normalised float batch ``(B, 3, H, W)`` to pooled features ``(B, out_dim)`` and carries
``out_dim``. torchvision ResNets are built with ``weights=None`` and timm models with ``pretrained=False``:
nothing is ever downloaded. Weights come from a local file only (``pretrained=``): a torchvision/timm state
dict, a Lightning checkpoint, or our portable ``model.pt``.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn
from torch.nn import functional as F
from torchvision import models as tv_models

from colorvariants.errors import CheckpointError, ColorVariantsError

BackboneBuilder = Callable[..., nn.Module]

BACKBONES: dict[str, BackboneBuilder] = {}

MODEL_FORMAT = "colorvariants.model"  # the "format" tag of a portable RUN_DIR/model.pt
_BACKBONE_PREFIX = "backbone."  # attribute name of the backbone inside our LightningModules
# torchvision ResNet classifier; timm models add their own (pretrained_cfg["classifier"])
_CLASSIFIER_PREFIXES = ("fc.",)
_SHOW_KEYS = 5  # how many offending keys an error lists


def register_backbone(name: str) -> Callable[[BackboneBuilder], BackboneBuilder]:
    """Decorator: ``@register_backbone("resnet18")`` adds a builder ``(small_stem: bool) -> nn.Module``."""

    def deco(builder: BackboneBuilder) -> BackboneBuilder:
        if name in BACKBONES:
            raise ColorVariantsError(f"backbone {name!r} is registered twice.")
        BACKBONES[name] = builder
        return builder

    return deco


def _small_stem(model: tv_models.ResNet) -> None:
    """Replace the 7x7/stride-2 conv + 3x3/stride-2 max-pool by a 3x3/stride-1 conv and no pool (CIFAR-style).

    For small images (32-64 px), as in SimCLR's CIFAR-10 experiments (Chen et al. 2020, appendix B.9): the
    standard stem shrinks a 64 px image to 16 px before the first block. Cost: every block then runs at 4x the
    resolution per axis, i.e. about 15x the FLOPs of the standard stem at the same input size (ResNet-18 at
    64 px: 0.30 -> 4.4 GFLOPs per image forward, counted with ``torch.utils.flop_counter``).
    """
    model.conv1 = nn.Conv2d(3, model.conv1.out_channels, kernel_size=3, stride=1, padding=1, bias=False)
    nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
    model.maxpool = nn.Identity()


# Output positions (H x W) up to which a CPU conv runs as one matmul over its patches, measured per precision
# on an Intel Xeon (2 cores, ResNet-18 shapes, forward + backward): under bf16 the matmul wins up to 4x4 maps,
# in fp32 only up to 2x2 (BENCHMARKS.md "Training speed levers", session 5).
SMALL_MAP_POSITIONS = {torch.float32: 4, torch.bfloat16: 16}


class SmallMapConv2d(nn.Conv2d):
    """A ``Conv2d`` that computes tiny output maps on CPU as one matmul over their patches (the same maths).

    Why: oneDNN's direct convolution is slow on maps of a few pixels. ResNet-18's last stages at 64 px run on
    2x2 and 4x4 maps, where gathering the patches (channels last) and one matmul is 1.5-4x faster, forward and
    backward; the whole bf16 training step is about 1.5x faster (BENCHMARKS.md "Training speed levers"). It also
    avoids a oneDNN bug: under bf16 autocast the weight gradient of a strided conv over a 1-pixel-wide input
    is garbage (1e20..inf, NaN; CV-SSL's loss went NaN), so inputs narrower than the kernel take this path too.
    Larger maps, GPUs, grouped convs, non-zero padding modes and exports run ``nn.Conv2d`` as it is.
    """

    def _small_output(self, x: torch.Tensor) -> tuple[int, int] | None:
        """``(H_out, W_out)`` when this input takes the matmul path, else None."""
        if (x.device.type != "cpu" or x.dim() != 4 or self.groups != 1 or self.padding_mode != "zeros"
                or isinstance(self.padding, str) or torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()):
            return None  # exports (ONNX, TorchScript) keep a plain Conv node
        (h, w), (kh, kw) = x.shape[-2:], self.kernel_size
        (sh, sw), (ph, pw), (dh, dw) = self.stride, self.padding, self.dilation
        h_out = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
        w_out = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
        low = torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16
        limit = SMALL_MAP_POSITIONS[torch.bfloat16 if low or x.dtype == torch.bfloat16 else torch.float32]
        if h_out * w_out <= limit or h < kh or w < kw:
            return h_out, w_out
        return None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out_size = self._small_output(x)
        if out_size is None:
            return super().forward(x)
        (h_out, w_out), (kh, kw) = out_size, self.kernel_size
        (sh, sw), (dh, dw) = self.stride, self.dilation
        ph, pw = cast(tuple[int, int], self.padding)  # a string padding never takes this path
        padded = F.pad(x.permute(0, 2, 3, 1), (0, 0, pw, pw, ph, ph))  # (B, H, W, C): channels last
        patches = torch.cat([  # (B, H_out, W_out, kh * kw * C), one slice per kernel tap
            padded[:, i * dh: i * dh + sh * (h_out - 1) + 1: sh, j * dw: j * dw + sw * (w_out - 1) + 1: sw, :]
            for i in range(kh) for j in range(kw)
        ], dim=3)
        weight = self.weight.permute(0, 2, 3, 1).reshape(self.out_channels, -1)  # same (tap, channel) order
        y = patches.reshape(-1, weight.shape[1]) @ weight.t()  # a matmul: bf16 under autocast
        if self.bias is not None:
            y = y + self.bias.to(y.dtype)
        return y.reshape(x.shape[0], h_out, w_out, self.out_channels).permute(0, 3, 1, 2)  # channels_last


def use_small_map_convs(model: nn.Module) -> nn.Module:
    """Make every ``nn.Conv2d`` with a kernel above 1x1 a ``SmallMapConv2d`` in place (same parameters, keys)."""
    for module in model.modules():
        if type(module) is nn.Conv2d and max(module.kernel_size) > 1:
            module.__class__ = SmallMapConv2d
    return model


def _torchvision_resnet(factory: Callable[..., tv_models.ResNet], small_stem: bool) -> nn.Module:
    """A torchvision ResNet without its classifier (``fc`` = identity): forward returns the pooled features.

    The module *is* the torchvision ResNet, so its state-dict keys are torchvision's (minus ``fc.*``) and
    torchvision weight files load as they are.
    """
    model = factory(weights=None)
    out_dim = model.fc.in_features
    model.fc = nn.Identity()
    if small_stem:
        _small_stem(model)
    model.out_dim = out_dim
    return model


@register_backbone("resnet18")
def resnet18(small_stem: bool = False) -> nn.Module:
    """ResNet-18 (He et al. 2016), 512-d features: the SimCLR/MoCo benchmarks' small backbone in lightly."""
    return _torchvision_resnet(tv_models.resnet18, small_stem)


@register_backbone("resnet34")
def resnet34(small_stem: bool = False) -> nn.Module:
    """ResNet-34 (He et al. 2016), 512-d features."""
    return _torchvision_resnet(tv_models.resnet34, small_stem)


@register_backbone("resnet50")
def resnet50(small_stem: bool = False) -> nn.Module:
    """ResNet-50 (He et al. 2016), 2048-d features: the SimCLR/MoCo v2 papers' ImageNet backbone."""
    return _torchvision_resnet(tv_models.resnet50, small_stem)


def _timm_backbone(model_name: str, small_stem: bool) -> nn.Module:
    """``timm.create_model(model_name, pretrained=False, num_classes=0)``: pooled features, no classifier."""
    if importlib.util.find_spec("timm") is None:
        raise ColorVariantsError(
            f"backbone 'timm/{model_name}' needs timm, which is not installed. "
            "Fix: pip install colorvariants[timm]"
        )
    if small_stem:
        raise ColorVariantsError(
            f"small_stem is only available for the torchvision ResNets ({', '.join(sorted(BACKBONES))}), "
            f"not for 'timm/{model_name}'."
        )
    timm = importlib.import_module("timm")
    try:
        model = timm.create_model(model_name, pretrained=False, num_classes=0)  # timm is imported by name: Any
    except RuntimeError as exc:  # timm: "Unknown model (...)"
        raise ColorVariantsError(
            f"timm cannot build {model_name!r}: {exc}. Fix: pick a name from timm.list_models()."
        ) from exc
    model.out_dim = int(model.num_features)
    return model


def feature_map(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The backbone's last feature map ``(B, C, h, w)`` before global pooling; its mean over cells is ``model(x)``.

    For pooling CV-SSL's parts from one pass (``part_source: pool``): a torchvision ResNet runs its stem and
    stages without the average pool; a timm CNN uses its ``forward_features``.

    Raises:
        ColorVariantsError: the backbone has no spatial feature map (e.g. a ViT's tokens).
    """
    if isinstance(model, tv_models.ResNet):
        x = model.maxpool(model.relu(model.bn1(model.conv1(x))))
        return model.layer4(model.layer3(model.layer2(model.layer1(x))))
    forward_features = getattr(model, "forward_features", None)
    fmap = forward_features(x) if callable(forward_features) else None
    if fmap is None or fmap.dim() != 4:
        raise ColorVariantsError(
            f"backbone {type(model).__name__} gives no (B, C, h, w) feature map to pool parts from. "
            "Fix: set model.part_source: crop, or use a CNN backbone (resnet18/34/50 or a timm CNN)."
        )
    return fmap


# Name families: "<prefix>/<model>" names built by a library's own factory.
BACKBONE_FAMILIES: dict[str, Callable[[str, bool], nn.Module]] = {"timm": _timm_backbone}


def backbone_names() -> list[str]:
    """Every name ``create_backbone`` accepts (families as ``timm/<model_name>``)."""
    return sorted(BACKBONES) + [f"{family}/<model_name>" for family in sorted(BACKBONE_FAMILIES)]


def create_backbone(
    name: str, *, pretrained: str | Path | None = None, small_stem: bool = False
) -> nn.Module:
    """Build backbone ``name`` (optionally loading local weights): an ``nn.Module`` with ``out_dim``.

    Its forward maps a normalised float batch ``(B, 3, H, W)`` to pooled features ``(B, out_dim)``.

    Args:
        name: a registered name (``resnet18``, ``resnet34``, ``resnet50``) or ``timm/<model_name>``.
        pretrained: path of a local weights file (see ``load_backbone_weights``); never a URL or hub name.
        small_stem: 3x3/stride-1 first conv and no max-pool, for small images (ResNets only).

    Raises:
        ColorVariantsError: unknown name (the message lists the available ones), or timm missing.
        CheckpointError: the weights file is missing, unreadable, or does not fit the model.

    >>> create_backbone("resnet18").out_dim
    512
    """
    if name in BACKBONES:
        model = BACKBONES[name](small_stem=small_stem)
    else:
        family, _, model_name = name.partition("/")
        if family not in BACKBONE_FAMILIES or not model_name:
            raise ColorVariantsError(f"unknown backbone {name!r}; available: {', '.join(backbone_names())}.")
        model = BACKBONE_FAMILIES[family](model_name, small_stem)
    use_small_map_convs(model)
    if pretrained is not None:
        load_backbone_weights(model, pretrained)
    return model


def _extract_state_dict(obj: Any, path: Path) -> dict[str, torch.Tensor]:
    """The backbone's tensors from a plain state dict, a Lightning checkpoint or a portable ``model.pt``."""
    if not isinstance(obj, Mapping):
        raise CheckpointError(
            f"{path}: expected a state dict (a mapping of names to tensors), got {type(obj).__name__}."
        )
    if "format" in obj and obj["format"] != MODEL_FORMAT:
        raise CheckpointError(
            f"{path}: unknown model file format {obj['format']!r} (expected {MODEL_FORMAT!r})."
        )
    if "state_dict" in obj:  # Lightning checkpoint or our model.pt
        obj = obj["state_dict"]
        if not isinstance(obj, Mapping):
            raise CheckpointError(f"{path}: 'state_dict' is not a mapping of names to tensors.")
    state = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not state:
        raise CheckpointError(f"{path}: holds no tensors; is it a weights file?")
    if any(k.startswith(_BACKBONE_PREFIX) for k in state):
        # A whole method's weights: keep the backbone (heads and the momentum copy are other attributes).
        state = {k[len(_BACKBONE_PREFIX):]: v for k, v in state.items() if k.startswith(_BACKBONE_PREFIX)}
    return state


def _classifier_prefixes(model: nn.Module) -> tuple[str, ...]:
    prefixes = list(_CLASSIFIER_PREFIXES)
    cfg = getattr(model, "pretrained_cfg", None) or getattr(model, "default_cfg", None)
    if isinstance(cfg, Mapping):
        classifier = cfg.get("classifier")
        for head in [classifier] if isinstance(classifier, str) else list(classifier or []):
            prefixes.append(f"{head}.")
    return tuple(prefixes)


def _first(keys: list[str]) -> str:
    shown = ", ".join(keys[:_SHOW_KEYS])
    return shown + (f", ... ({len(keys)} in all)" if len(keys) > _SHOW_KEYS else "")


def load_backbone_weights(model: nn.Module, path: str | Path) -> None:
    """Load a local weights file into ``model`` (strictly: every key and shape must match).

    Accepts a torchvision/timm state dict, a dict with ``state_dict`` (a Lightning checkpoint: the
    ``backbone.`` prefix is stripped), or our portable ``model.pt`` (``{"format": "colorvariants.model",
    "state_dict": ...}``). Read with ``torch.load(weights_only=True)``: no code in the file runs. Classifier
    keys (``fc.*``) are dropped.

    Raises:
        CheckpointError: missing or unreadable file, or keys/shapes that do not fit (the first few listed).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"{path}: weights file not found. Fix: pass the path of a local file (nothing is downloaded). "
            "For "
            "ImageNet weights, download torchvision's, e.g. "
            "https://download.pytorch.org/models/resnet18-f37072fd.pth, on a machine with internet, copy it "
            "here and pass its path; or pass a RUN_DIR/model.pt or a Lightning .ckpt of an earlier run."
        )
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    # pickle.UnpicklingError for untrusted objects, RuntimeError/EOFError for damaged files
    except Exception as exc:
        raise CheckpointError(
            f"{path}: cannot read weights with torch.load(weights_only=True): {exc}. Fix: save only tensors "
            "(torch.save(model.state_dict(), path)); files holding arbitrary Python objects are refused."
        ) from exc
    state = _extract_state_dict(obj, path)
    drop = _classifier_prefixes(model)
    state = {k: v for k, v in state.items() if not k.startswith(drop)}

    expected = model.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    mismatched = [
        f"{k} (file {tuple(v.shape)}, model {tuple(expected[k].shape)})"
        for k, v in state.items()
        if k in expected and v.shape != expected[k].shape
    ]
    if missing or unexpected or mismatched:
        parts = []
        if mismatched:
            parts.append(f"shape mismatch: {_first(mismatched)}")
        if missing:
            parts.append(f"missing from the file: {_first(missing)}")
        if unexpected:
            parts.append(f"not in the model: {_first(unexpected)}")
        hint = ""
        if any(k.startswith("conv1.") for k in mismatched):
            hint = (" (conv1 differs: small_stem=True uses a 3x3 first conv; ImageNet weights need "
                    "small_stem=False)")
        raise CheckpointError(
            f"{path}: weights do not fit backbone {type(model).__name__}{hint}. "
            + "; ".join(parts)
            + ". Fix: "
            "pass weights saved from the same backbone name and small_stem setting."
        )
    model.load_state_dict(state, strict=False)  # strictness checked above (num_batches_tracked may be absent)
