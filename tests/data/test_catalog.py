"""Tests for colorvariants.data.catalog: reading manifests, structural checks, splits, fingerprints."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from colorvariants.data.catalog import Catalog, read_manifest_frame
from colorvariants.errors import ManifestError


def _frame(**columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(columns)


class TestRead:
    def test_ids_stay_strings(self, tmp_path, manifest_writer):
        rows = [{"image_path": "a.jpg", "product_id": "007", "style_id": "01"}]
        path = manifest_writer(tmp_path / "m.csv", rows)
        frame = read_manifest_frame(path)
        assert frame.at[0, "product_id"] == "007" and frame.at[0, "style_id"] == "01"

    def test_parquet_and_whitespace(self, tmp_path):
        path = tmp_path / "m.parquet"
        pd.DataFrame({" image_path ": [" a.jpg "], "product_id": [7]}).to_parquet(path)
        frame = read_manifest_frame(path)
        assert list(frame.columns) == ["image_path", "product_id"]
        assert frame.at[0, "image_path"] == "a.jpg" and frame.at[0, "product_id"] == "7"

    def test_missing_and_unknown_format(self, tmp_path):
        with pytest.raises(ManifestError, match="not found"):
            read_manifest_frame(tmp_path / "absent.csv")
        (tmp_path / "m.xlsx").write_text("x")
        with pytest.raises(ManifestError, match="unknown manifest format"):
            read_manifest_frame(tmp_path / "m.xlsx")

    def test_reserved_row_column(self, tmp_path, manifest_writer):
        path = manifest_writer(tmp_path / "m.csv", [{"image_path": "a.jpg", "product_id": "p", "row": "A3"}])
        with pytest.raises(ManifestError, match="'row' is reserved") as exc:
            read_manifest_frame(path)
        assert "Fix: rename the column" in str(exc.value)

    def test_bbox_columns_numeric(self, tmp_path, manifest_writer):
        path = manifest_writer(tmp_path / "m.csv", [
            {"image_path": "a.jpg", "product_id": "p",
             "bbox_x0": "1", "bbox_y0": "2", "bbox_x1": "", "bbox_y1": "x"},
        ])
        frame = read_manifest_frame(path)
        assert frame.at[0, "bbox_x0"] == 1.0
        assert np.isnan(frame.at[0, "bbox_x1"]) and np.isnan(frame.at[0, "bbox_y1"])


class TestStructure:
    def test_load_valid_catalog(self, make_catalog):
        spec = make_catalog()
        cat = spec.load()
        assert len(cat) == len(spec.rows) == 16
        assert cat.frame["row"].tolist() == list(range(1, 17))
        assert cat.root == spec.root and cat.source == spec.manifest
        assert cat.path_of(0).is_file() and all(p.is_file() for p in cat.paths)

    def test_missing_columns(self, tmp_path):
        with pytest.raises(ManifestError) as exc:
            Catalog.from_frame(_frame(path=["a.jpg"], product=["p"]), tmp_path)
        assert "image_path" in str(exc.value) and "product_id" in str(exc.value) and "Fix:" in str(exc.value)
        cat = Catalog.from_frame(_frame(path=["a.jpg"]), tmp_path, check=False)
        assert [p.code for p in cat.structural_problems()] == ["missing-column"]

    def test_empty_ids_duplicates_two_styles_escape(self, tmp_path):
        frame = _frame(
            image_path=["a.jpg", "a.jpg", "b.jpg", "", "c.jpg", "../x.jpg"],
            product_id=["p1", "p1", "p1", "p2", "", "p3"],
            style_id=["s1", "s1", "s2", "s3", "s4", "s5"],
        )
        with pytest.raises(ManifestError) as exc:
            Catalog.from_frame(frame, tmp_path)
        assert "row 2" in str(exc.value)
        problems = Catalog.from_frame(frame, tmp_path, check=False).structural_problems()
        by_code = {p.code: p for p in problems}
        assert by_code["duplicate-row"].row == 2
        assert by_code["empty-image-path"].row == 4
        assert by_code["empty-product-id"].row == 5
        two_styles, escape = by_code["product-in-two-styles"], by_code["path-escapes-root"]
        assert two_styles.row == 1 and "'s1', 's2'" in two_styles.message
        assert escape.row == 6 and "--allow-outside-root" in escape.fix
        assert all(p.severity == "error" for p in problems)

    def test_allow_outside_root(self, tmp_path):
        frame = _frame(image_path=["../x.jpg"], product_id=["p"])
        cat = Catalog.from_frame(frame, tmp_path, allow_outside_root=True)
        assert cat.structural_problems() == []

    def test_absolute_path_escapes(self, tmp_path):
        frame = _frame(image_path=["/etc/passwd"], product_id=["p"])
        codes = [p.code for p in Catalog.from_frame(frame, tmp_path, check=False).structural_problems()]
        assert codes == ["path-escapes-root"]

    def test_escapes_root_is_the_one_check(self, tmp_path):
        root = tmp_path / "root"
        (root / "a").mkdir(parents=True)
        (root / "out").symlink_to(tmp_path)  # a link out of the root escapes too
        frame = _frame(image_path=["a/x.jpg"], product_id=["p"])
        cat = Catalog.from_frame(frame, root, source=tmp_path / "m.csv")
        assert not cat.escapes_root("a/x.jpg") and not cat.escapes_root("a/../b.jpg") and not cat.escapes_root(".")
        assert cat.escapes_root("../x.jpg") and cat.escapes_root("/etc/passwd") and cat.escapes_root("out/x.jpg")
        allowed = Catalog.from_frame(frame, root, allow_outside_root=True)
        assert not allowed.escapes_root("../x.jpg")
        problem = cat.escape_problem("mask_path", "../m.png", 3)
        assert (problem.code, problem.row, problem.file) == ("mask-path-escapes-root", 3, str(tmp_path / "m.csv"))
        assert "outside the image root" in problem.message and "--allow-outside-root" in problem.fix
        assert cat.escape_problem("image_path", "../x.jpg", 1).code == "path-escapes-root"


class TestLabelsAndSplits:
    def test_style_fallback_and_labels(self, tmp_path):
        frame = _frame(
            image_path=["a", "b", "c", "d"], product_id=["p2", "p1", "p3", "p1"], style_id=["s", "s", "", "s"]
        )
        cat = Catalog.from_frame(frame, tmp_path)
        assert cat.style_ids.tolist() == ["s", "s", "product:p3", "s"]
        assert not cat.has_styles
        assert cat.style_labels().tolist() == [1, 1, 0, 1]
        assert cat.product_labels().tolist() == [1, 0, 2, 0]
        assert cat.style_labels().dtype == np.int64

    def test_no_style_column_means_product_is_style(self, tmp_path):
        cat = Catalog.from_frame(_frame(image_path=["a", "b"], product_id=["p", "q"]), tmp_path)
        assert cat.style_ids.tolist() == ["p", "q"]

    def test_split_errors_are_loud(self, make_catalog, tmp_path):
        cat = make_catalog().load()
        assert len(cat.split("train")) == 8 and cat.split_names() == ["test", "train", "val"]
        with pytest.raises(ManifestError, match="empty"):
            cat.split("holdout")
        nosplit = Catalog.from_frame(_frame(image_path=["a"], product_id=["p"]), tmp_path)
        with pytest.raises(ManifestError, match="no 'split' column"):
            nosplit.split("train")

    def test_assign_splits_by_style_reproducible(self, make_catalog):
        cat = make_catalog(n_styles=20, splits=None).load()
        a = cat.assign_splits(seed=3)
        b = cat.assign_splits(seed=3)
        assert a.frame["split"].tolist() == b.frame["split"].tolist()
        per_style = a.frame.groupby("style_id")["split"].nunique()
        assert (per_style == 1).all()  # a style never straddles splits
        assert set(a.frame["split"]) == {"train", "val", "test"}
        assert a.assign_splits(seed=99) is a  # an existing split is kept
        assert a.assign_splits(seed=99, overwrite=True).frame["split"].tolist() != a.frame["split"].tolist()

    def test_subset_keeps_rows(self, make_catalog):
        cat = make_catalog().load()
        sub = cat.subset(np.array([3, 1]))
        assert sub.frame["row"].tolist() == [4, 2] and sub.frame.index.tolist() == [0, 1]
        assert len(cat.subset(cat.frame["split"] == "val")) == 4


class TestIdentity:
    def test_fingerprint_tracks_images_and_root(self, make_catalog, tmp_path):
        cat = make_catalog().load()
        assert cat.fingerprint() == make_catalog().load().fingerprint()
        assert cat.subset(np.arange(15)).fingerprint() != cat.fingerprint()
        moved = Catalog.from_frame(cat.frame, tmp_path / "elsewhere")
        assert moved.fingerprint() != cat.fingerprint()

    def test_save_roundtrip(self, make_catalog, tmp_path):
        cat = make_catalog().load()
        for name in ("out.csv", "out.parquet"):
            cat.save(tmp_path / name)
            again = Catalog.load(tmp_path / name, root=cat.root)
            assert again.frame.drop(columns="row").equals(cat.frame.drop(columns="row"))
        assert "row" not in pd.read_csv(tmp_path / "out.csv").columns  # internal, never written
