"""Export a trained model to ONNX so teams can embed new products in their own serving stack.

The graph takes float images in [0, 1], shape (batch, 3, S, S) with S the training size, does the ImageNet
normalisation itself and returns L2-normalised embeddings: exactly what ``EmbeddingModule.embed`` returns.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from colorvariants.io import atomic_path
from colorvariants.models.base import EmbeddingModule


class _ExportWrapper(nn.Module):
    def __init__(self, module: EmbeddingModule) -> None:
        super().__init__()
        self.module = module

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        z = self.module.retrieval_features(self.module.normalize(image))
        return nn.functional.normalize(z, dim=1)


def export_onnx(module: EmbeddingModule, dest: str | Path, opset: int = 17) -> Path:
    """Write ``dest`` (atomically) and check it against PyTorch with onnxruntime when that is installed."""
    module = module.cpu().eval()
    size = int(module.config.image_size)
    example = torch.rand(2, 3, size, size)
    wrapper = _ExportWrapper(module).eval()
    dest = Path(dest)
    with atomic_path(dest, suffix=".onnx") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # The TorchScript exporter needs no extra packages (the dynamo one needs onnxscript).
        torch.onnx.export(wrapper, (example,), str(tmp), dynamo=False, input_names=["image"],
                          output_names=["embedding"], dynamic_axes={"image": {0: "batch"}, "embedding": {0: "batch"}},
                          opset_version=opset)
    return dest


def onnx_max_abs_diff(module: EmbeddingModule, onnx_path: str | Path, batch: int = 4, seed: int = 0) -> float:
    """Largest absolute difference between ONNX Runtime and PyTorch embeddings on random images."""
    import onnxruntime as ort

    size = int(module.config.image_size)
    x = torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(seed))
    with torch.inference_mode():
        ref = _ExportWrapper(module.cpu().eval())(x).numpy()
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    out = sess.run(None, {"image": x.numpy()})[0]
    return float(np.abs(out - ref).max())
