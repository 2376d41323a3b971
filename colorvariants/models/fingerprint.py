"""A model's identity by content: a hash of its method, config and weights, not of the file's path or name.

Outputs made with a model (an embedding set) record this hash, so a rerun with other weights that happen to sit at
the same path (a retrained run folder, a copied ``model.pt``) is told apart from a resume of the same model.
"""

from __future__ import annotations

import hashlib
import json

import torch

from colorvariants.config import to_dict
from colorvariants.models.base import EmbeddingModule

# Config keys that say where weights came from, not what they are (the weights themselves are hashed).
_PROVENANCE_KEYS = ("pretrained",)


def model_fingerprint(module: EmbeddingModule) -> str:
    """``sha256:<hex>`` over the method name, the config (minus provenance keys) and every tensor of the state dict."""
    h = hashlib.sha256()
    config = {k: v for k, v in to_dict(module.config).items() if k not in _PROVENANCE_KEYS}
    h.update(json.dumps({"method": module.method_name, "config": config}, sort_keys=True, default=str).encode())
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return "sha256:" + h.hexdigest()
