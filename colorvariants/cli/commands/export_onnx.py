"""``colorvariants export-onnx``: the model as ONNX (float [0,1] images in, L2-normalised embeddings out)."""

from __future__ import annotations

import argparse
from pathlib import Path

from colorvariants.cli.registry import register


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ckpt", type=Path, required=True, help="RUN_DIR/model.pt")
    p.add_argument("--out", type=Path, required=True, help="destination .onnx file")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--no-check", action="store_true", help="skip the onnxruntime vs PyTorch comparison")


def run(args: argparse.Namespace) -> int:
    from colorvariants.models.checkpoint import load_model
    from colorvariants.retrieval.onnx_export import export_onnx, onnx_max_abs_diff

    module = load_model(args.ckpt)
    export_onnx(module, args.out, opset=args.opset)
    size = module.config.image_size
    print(f"wrote {args.out}: input 'image' float32 (batch, 3, {size}, {size}) in [0,1]; output 'embedding'")
    if not args.no_check:
        try:
            diff = onnx_max_abs_diff(module, args.out)
        except ImportError:
            print("onnxruntime not installed: skipped the numerical check (pip install colorvariants[onnx])")
        else:
            print(f"onnxruntime vs PyTorch: max |diff| = {diff:.2e}")
            if diff > 1e-3:
                print("warning: the ONNX output differs from PyTorch by more than 1e-3")
                return 1
    return 0


register("export-onnx", "export a trained model to ONNX for serving", add_arguments, run)
