"""Property-based tests (hypothesis) of the manifest reader: ``Catalog.load`` and ``validate_catalog``.

A well-formed manifest (random unicode paths and ids, optional columns, CSV or Parquet, rows in any order)
loads into exactly its rows, in order. One corrupted row is an error naming that row (``Catalog.load`` refuses
the manifest, ``validate`` lists it) or, where the documented handling is to go on, a warning naming that row;
never a raw pandas/KeyError/TypeError traceback and never a catalog that silently differs from the file.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from colorvariants.data.catalog import BBOX_COLUMNS, Catalog, read_manifest_frame
from colorvariants.data.validate import ValidationReport, validate_catalog
from colorvariants.errors import ManifestError

SETTINGS = settings(max_examples=40, deadline=None)
OPTIONAL = ("style_id", "color", "split", "mask_path")
# Ids that trip naive readers: numbers with leading zeros or exponents, pandas' NA spellings, booleans.
TRICKY_IDS = ("007", "1e3", "0.10", "-0", "NA", "nan", "None", "TRUE", "#1", "a,b", 'say "hi"', "ß-Ü")

# A path segment: letters, digits and symbols from any script, and punctuation a file name may hold.
segment = st.text(
    st.characters(categories=("L", "N", "So"), exclude_characters="/\\")
    | st.sampled_from(list(" -_.,'\"()#%&+=@")),
    min_size=1, max_size=8,
).filter(lambda s: s.strip() == s and s not in (".", ".."))
rel_path = st.builds(
    lambda segs, ext: "/".join(segs) + ext,
    st.lists(segment, min_size=1, max_size=3),
    st.sampled_from([".jpg", ".png", ".JPEG", ""]),
)
ident = segment | st.sampled_from(TRICKY_IDS)


@dataclass
class Manifest:
    """Rows as written (every value a string; bbox values floats) and the columns present."""

    rows: list[dict[str, Any]]
    columns: list[str]

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=self.columns)


@st.composite
def manifests(draw: st.DrawFn, min_rows: int = 1) -> Manifest:
    """A well-formed manifest: distinct image paths, each product in one style, optional columns."""
    paths = draw(st.lists(rel_path, min_size=min_rows, max_size=12, unique=True))
    products = draw(st.lists(ident, min_size=1, max_size=5, unique=True))
    present = [c for c in OPTIONAL if draw(st.booleans())]
    with_bbox = draw(st.booleans())
    styles = draw(st.lists(ident | st.just(""), min_size=len(products), max_size=len(products)))
    rows = []
    for path in paths:
        p = draw(st.integers(0, len(products) - 1))
        row: dict[str, Any] = {"image_path": path, "product_id": products[p]}
        row["style_id"] = styles[p]
        row["color"] = draw(ident | st.just(""))
        row["split"] = draw(st.sampled_from(["train", "val", "test"]))
        row["mask_path"] = draw(rel_path | st.just(""))
        if draw(st.booleans()):
            x0, y0 = draw(st.integers(0, 500)), draw(st.integers(0, 500))
            box = (x0, y0, x0 + draw(st.integers(1, 500)), y0 + draw(st.integers(1, 500)))
        else:
            box = (math.nan,) * 4
        row.update({c: float(v) for c, v in zip(BBOX_COLUMNS, box, strict=True)})
        rows.append(row)
    columns = ["image_path", "product_id", *present, *(BBOX_COLUMNS if with_bbox else ())]
    return Manifest([{c: r[c] for c in columns} for r in rows], columns)


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    """One folder for every example (hypothesis re-runs a test body many times; a fixture runs once)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "images"
        root.mkdir()
        yield Path(tmp)


def write(manifest: Manifest | pd.DataFrame, folder: Path, fmt: str) -> Path:
    frame = manifest.frame() if isinstance(manifest, Manifest) else manifest
    path = folder / f"manifest.{fmt}"
    if fmt == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


def report_of(path: Path, root: Path) -> ValidationReport:
    """What ``colorvariants validate --no-files`` reports (the catalog is built unchecked, to list it all)."""
    catalog = Catalog.from_frame(read_manifest_frame(path), root, source=path, check=False)
    return validate_catalog(catalog, check_files=False, progress=False)


fmt = st.sampled_from(["csv", "parquet"])


class TestWellFormed:
    @SETTINGS
    @given(manifests(), fmt)
    def test_round_trip_keeps_every_row_in_order(self, workdir: Path, manifest: Manifest, fmt: str) -> None:
        path = write(manifest, workdir, fmt)
        cat = Catalog.load(path, workdir / "images")
        frame = cat.frame
        assert len(cat) == len(manifest.rows)
        assert frame["row"].tolist() == list(range(1, len(manifest.rows) + 1))
        for col in manifest.columns:
            got, want = frame[col].tolist(), [r[col] for r in manifest.rows]
            if col in BBOX_COLUMNS:
                assert np.array_equal(np.asarray(got, float), np.asarray(want, float), equal_nan=True), col
            else:
                assert got == want, col
        assert cat.paths == [workdir / "images" / r["image_path"] for r in manifest.rows]
        # A product is one label, a style groups its products; a row without style_id is a style of its own.
        if "style_id" in manifest.columns:
            styles = [r["style_id"] or "product:" + r["product_id"] for r in manifest.rows]
        else:
            styles = [r["product_id"] for r in manifest.rows]
        assert cat.style_ids.tolist() == styles
        assert len(set(cat.product_labels().tolist())) == len({r["product_id"] for r in manifest.rows})
        assert report_of(path, workdir / "images").errors == []

    @SETTINGS
    @given(manifests(), fmt, fmt)
    def test_save_then_load_is_identity(self, workdir: Path, manifest: Manifest, src: str, dst: str) -> None:
        cat = Catalog.load(write(manifest, workdir, src), workdir / "images")
        out = workdir / f"saved.{dst}"
        cat.save(out)
        again = Catalog.load(out, workdir / "images")
        pd.testing.assert_frame_equal(again.frame, cat.frame, check_dtype=False)


# -- one corrupted row -------------------------------------------------------------------------------------
CORRUPTIONS = (
    "blank-product", "blank-path", "parent-escape", "absolute-path", "repeated-row", "shared-image",
    "unknown-split", "missing-style", "placeholder-style", "second-style",
)


@dataclass(frozen=True)
class Expected:
    code: str
    severity: str
    row: int  # 1-based manifest data row


def corrupt(manifest: Manifest, kind: str, i: int, j: int, draw: st.DrawFn) -> tuple[pd.DataFrame, Expected]:
    """Damage row ``i`` (``j``: another row, where needed); return the frame and what to expect of it."""
    rows = [dict(r) for r in manifest.rows]
    columns = list(manifest.columns)
    for col in ("style_id", "split"):
        if col not in columns:  # the corruptions below may need these columns
            columns.append(col)
            for r in rows:
                r[col] = {"style_id": "", "split": "train"}[col]
    row = rows[i]
    if kind == "blank-product":
        row["product_id"] = draw(st.sampled_from(["", " ", "\t"]))
        return pd.DataFrame(rows, columns=columns), Expected("empty-product-id", "error", i + 1)
    if kind == "blank-path":
        row["image_path"] = draw(st.sampled_from(["", "  "]))
        return pd.DataFrame(rows, columns=columns), Expected("empty-image-path", "error", i + 1)
    if kind == "parent-escape":
        row["image_path"] = draw(st.sampled_from(["../", "a/../../", "./../../../"])) + row["image_path"]
        return pd.DataFrame(rows, columns=columns), Expected("path-escapes-root", "error", i + 1)
    if kind == "absolute-path":
        row["image_path"] = "/" + draw(st.sampled_from(["etc/passwd", "x", "a/" + row["image_path"]]))
        return pd.DataFrame(rows, columns=columns), Expected("path-escapes-root", "error", i + 1)
    if kind == "repeated-row":  # the same image listed twice for the same product: the later row is the copy
        rows[i] = dict(rows[j])
        return pd.DataFrame(rows, columns=columns), Expected("duplicate-row", "error", max(i, j) + 1)
    if kind == "shared-image":  # one image under two products: a warning naming the first row
        row["image_path"] = rows[j]["image_path"]
        if row["product_id"] == rows[j]["product_id"]:
            return pd.DataFrame(rows, columns=columns), Expected("duplicate-row", "error", max(i, j) + 1)
        expected = Expected("image-in-two-products", "warning", min(i, j) + 1)
        return pd.DataFrame(rows, columns=columns), expected
    if kind == "unknown-split":  # documented: kept, warned about, and never part of train/val/test
        row["split"] = draw(st.sampled_from(["Test", "tset", "training", "validation", "holdout"]))
        return pd.DataFrame(rows, columns=columns), Expected("unknown-split", "warning", i + 1)
    if kind == "missing-style":  # NaN/None written by pandas: the row is a style of its own, warned
        row["style_id"] = draw(st.sampled_from([None, math.nan]))
        return pd.DataFrame(rows, columns=columns), Expected("empty-style-id", "warning", i + 1)
    same_product = [r for r in rows if r["product_id"] == row["product_id"]]
    if kind == "placeholder-style":  # NaN written out as text by astype(str): would merge unrelated products
        value = draw(st.sampled_from(["nan", "NaN", "None", "null", "<NA>"]))
        for r in same_product:
            r["style_id"] = value
        first = min(k for k, r in enumerate(rows) if r["style_id"] == value) + 1
        return pd.DataFrame(rows, columns=columns), Expected("placeholder-style-id", "warning", first)
    # second-style: one product, two styles (row j joins row i's product, then row i changes style)
    rows[j]["product_id"] = row["product_id"]
    same_product = [r for r in rows if r["product_id"] == row["product_id"]]
    base = row["style_id"] or "base-style"
    for r in same_product:
        r["style_id"] = base
    row["style_id"] = base + "-other"
    if rows[j]["image_path"] == row["image_path"]:
        rows[j]["image_path"] += "-j"
    first = min(k for k, r in enumerate(rows) if r["product_id"] == row["product_id"]) + 1
    return pd.DataFrame(rows, columns=columns), Expected("product-in-two-styles", "error", first)


class TestOneCorruptedRow:
    @settings(max_examples=120, deadline=None)
    @given(manifests(min_rows=2), st.sampled_from(CORRUPTIONS), fmt, st.data())
    def test_is_reported_with_its_row(
        self, workdir: Path, manifest: Manifest, kind: str, fmt: str, data: st.DataObject
    ) -> None:
        n = len(manifest.rows)
        i = data.draw(st.integers(0, n - 1), label="row")
        j = data.draw(st.integers(0, n - 1).filter(lambda k: k != i), label="other row")
        frame, expected = corrupt(manifest, kind, i, j, data.draw)
        path = write(frame, workdir, fmt)
        root = workdir / "images"

        report = report_of(path, root)
        found = [p for p in report.problems if p.code == expected.code and p.row == expected.row]
        assert found, f"{expected} not in {[str(p) for p in report.problems]}"
        assert found[0].severity == expected.severity and found[0].fix, found[0]

        if expected.severity == "error":
            where = rf"\[error\] {expected.code} \(row {expected.row}\b"
            with pytest.raises(ManifestError, match=where) as exc:
                Catalog.load(path, root)
            assert "Fix:" in str(exc.value)
        else:  # documented handling is to load and warn; the row stays as written
            cat = Catalog.load(path, root)
            assert len(cat) == n
            assert cat.frame["image_path"].tolist() == frame["image_path"].tolist()


# -- arbitrary files ---------------------------------------------------------------------------------------
csv_text = st.text(
    st.sampled_from(list('image_path,product_id,style_id,split,row,"\n\r\t ;,.../a7é')) | st.characters(),
    max_size=120,
)


class TestArbitraryFiles:
    @settings(max_examples=150, deadline=None)
    @given(st.sampled_from(["", "image_path,product_id\n", "image_path,product_id,style_id\n"]), csv_text)
    def test_any_csv_text_loads_or_raises_manifest_error(self, workdir: Path, header: str, body: str) -> None:
        """Whatever the text, the reader answers with a catalog or a ManifestError (the CLI prints it)."""
        path = workdir / "fuzz.csv"
        path.write_text(header + body, encoding="utf-8", errors="surrogatepass")
        try:
            cat = Catalog.load(path, workdir / "images")
        except ManifestError as exc:
            assert str(exc)
            return
        assert cat.frame["row"].tolist() == list(range(1, len(cat) + 1))
        assert (cat.frame["image_path"] != "").all() and (cat.frame["product_id"] != "").all()

    @settings(max_examples=30, deadline=None)
    @given(st.binary(max_size=200), st.sampled_from(["csv", "parquet"]))
    def test_any_bytes_load_or_raise_manifest_error(self, workdir: Path, blob: bytes, suffix: str) -> None:
        path = workdir / f"fuzz.{suffix}"
        path.write_bytes(blob)
        try:
            Catalog.load(path, workdir / "images")
        except ManifestError:
            pass

    @pytest.mark.parametrize(
        "header", ["image_path, image_path,product_id", "image_path,product_id,image_path"]
    )
    def test_repeated_column_is_an_error(self, tmp_path: Path, header: str) -> None:
        """Two columns of one name are ambiguous: which one holds the image? Refused, not guessed."""
        path = tmp_path / "m.csv"
        path.write_text(f"{header}\na.jpg,p1,b.jpg\n")
        with pytest.raises(ManifestError, match="more than once"):
            Catalog.load(path)

    @SETTINGS
    @given(manifests(), st.sampled_from(["image_path", "product_id"]), fmt)
    def test_missing_required_column_is_an_error(
        self, workdir: Path, manifest: Manifest, column: str, fmt: str
    ) -> None:
        path = write(manifest.frame().drop(columns=[column]), workdir, fmt)
        with pytest.raises(ManifestError, match=rf"missing-column.*{column}"):
            Catalog.load(path, workdir / "images")
        assert [p.code for p in report_of(path, workdir / "images").errors] == ["missing-column"]
