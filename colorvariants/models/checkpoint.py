"""The portable model file (``model.pt``) and loading any checkpoint safely with ``weights_only=True``.

``model.pt`` holds plain data only: ``{"format": "colorvariants.model", "version": 1, "method", "config",
"state_dict"}``. A Lightning ``.ckpt`` of ours loads too (its hyper-parameters are plain dicts). Nothing is
unpickled beyond tensors and primitives, so a file from elsewhere cannot run code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from colorvariants.config import to_dict
from colorvariants.errors import CheckpointError
from colorvariants.io import atomic_path
from colorvariants.models.base import EmbeddingModule

MODEL_FORMAT = "colorvariants.model"
MODEL_VERSION = 1


def save_model(module: EmbeddingModule, dest: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write the portable model file atomically (momentum encoders and memory banks included: they are state)."""
    payload = {
        "format": MODEL_FORMAT,
        "version": MODEL_VERSION,
        "method": module.method_name,
        "config": to_dict(module.config),
        "state_dict": {k: v.detach().cpu() for k, v in module.state_dict().items()},
        "extra": to_dict(extra or {}),
    }
    dest = Path(dest)
    with atomic_path(dest, suffix=".pt") as tmp:
        torch.save(payload, tmp)
    return dest


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """``torch.load(weights_only=True)`` with errors that name the file and the fix."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found. Fix: pass RUN_DIR/model.pt or a .ckpt of a fit run.")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle errors, truncated zip, foreign globals
        raise CheckpointError(
            f"{path}: cannot be loaded safely ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}). "
            "Only tensors and plain data are accepted (weights_only=True). Fix: use a model.pt written by "
            "`colorvariants fit`, or re-export the checkpoint."
        ) from exc


def load_model(path: str | Path, map_location: str | torch.device = "cpu") -> EmbeddingModule:
    """Rebuild a trained module from ``model.pt`` or a Lightning ``.ckpt`` of ours, in eval mode."""
    from colorvariants.models.registry import build_method

    payload = read_checkpoint(path)
    if payload.get("format") == MODEL_FORMAT:
        if int(payload.get("version", 0)) > MODEL_VERSION:
            raise CheckpointError(f"{path}: model format version {payload['version']} is newer than this "
                                  f"colorvariants ({MODEL_VERSION}). Fix: upgrade colorvariants.")
        method, config, state = payload["method"], payload["config"], payload["state_dict"]
    elif "state_dict" in payload and "hyper_parameters" in payload:
        hp = payload["hyper_parameters"]
        if "method" not in hp:
            raise CheckpointError(f"{path}: a Lightning checkpoint, but not of a colorvariants method.")
        method, config, state = hp["method"], hp["config"], payload["state_dict"]
    else:
        raise CheckpointError(f"{path}: not a colorvariants model (no 'format' or Lightning hyper-parameters). "
                              "Fix: pass RUN_DIR/model.pt from `colorvariants fit`.")
    config = dict(config)
    config["pretrained"] = None  # the weights come from this file, not from the original init file
    module = build_method(method, config)
    missing, unexpected = module.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CheckpointError(f"{path}: weights do not match method {method!r}: missing {missing[:5]}, "
                              f"unexpected {unexpected[:5]}.")
    return module.to(map_location).eval()
