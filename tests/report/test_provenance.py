"""The facts beside the numbers: which test images are queries, and the dataset counts built on them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from colorvariants.data.catalog import Catalog
from colorvariants.report.provenance import dataset_summary, query_rows


def _catalog(root: Path) -> Catalog:
    frame = pd.DataFrame({
        "image_path": [f"images/{i}.jpg" for i in range(5)],
        "product_id": ["p1", "p2", "p3", "p3", "p4"],
        "style_id": ["s1", "s1", "s2", "s2", ""],  # s1: two products; s2: one product twice; p4: no style
        "split": ["test"] * 5,
    })
    return Catalog.from_frame(frame, root)


def test_queries_are_images_whose_style_has_another_product(tmp_path: Path) -> None:
    assert query_rows(_catalog(tmp_path)).tolist() == [0, 1]


def test_summary_counts_the_queries(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path)
    summary = dataset_summary(catalog, catalog)
    assert summary["queries"] == 2 and type(summary["queries"]) is int  # metrics.json holds plain ints
    assert summary["test_styles"] == 3 and summary["products"] == 4 and summary["test_images"] == 5
