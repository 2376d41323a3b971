"""The facts written beside the benchmark's numbers: the dataset's counts and the machine that produced them.

shared/docs/protocol.md asks every number to come with its dataset and hardware; ``metrics.json`` carries
``dataset_summary`` under ``dataset`` and ``machine_description`` under ``config.machine``.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from colorvariants.data.catalog import Catalog


def dataset_summary(catalog: Catalog, test: Catalog) -> dict[str, Any]:
    """Counts a reader needs to judge the numbers (and the number of evaluable queries)."""
    f = catalog.frame
    return {
        "images": int(len(f)), "products": int(f["product_id"].nunique()),
        "styles": int(len(set(catalog.style_ids.tolist()))),
        "train_images": int((f["split"] == "train").sum()), "val_images": int((f["split"] == "val").sum()),
        "test_images": int(len(test)), "test_styles": int(pd.Series(test.style_ids).nunique()),
        "queries": len(query_rows(test)),
        "families": f["family"].value_counts().to_dict() if "family" in f.columns else {},
    }


def query_rows(test: Catalog) -> np.ndarray:
    """Positions of the test images that are queries under the protocol: their style has another product."""
    styles = pd.Series(test.style_ids, index=test.frame.index)
    products = test.frame.groupby(styles)["product_id"].transform("nunique")
    return np.flatnonzero((products >= 2).to_numpy())


def cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo (else what ``platform`` knows): the machine line of every figure."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def machine_description() -> str:
    """CPU model, cores and GPU (if any): every reported number carries its hardware."""
    import torch  # here, not at the top: reading a benchmark's facts needs no torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{cpu_name()}, {os.cpu_count()} cores, {gpu}"
