"""The written catalog: loads as a Catalog, byte-identical from the seed; colour cannot identify a design."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from colorvariants.data.catalog import Catalog
from colorvariants.data.synth import SynthConfig, write_synthetic_catalog
from colorvariants.errors import ColorVariantsError

COLUMNS = ["image_path", "product_id", "style_id", "color", "family", "split", "mask_path",
           "bbox_x0", "bbox_y0", "bbox_x1", "bbox_y1", "cluster_id"]


def tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` by relative path."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


class TestWrittenCatalog:
    def test_manifest_loads_with_the_documented_columns(
        self, small_catalog: Path, small_config: SynthConfig
    ) -> None:
        catalog = Catalog.load(small_catalog)
        assert list(catalog.frame.columns.drop("row")) == COLUMNS
        assert catalog.has_styles and catalog.has_masks() and catalog.has_bbox()
        assert catalog.frame["style_id"].nunique() == small_config.styles

    def test_every_listed_file_exists_with_the_right_format(
        self, small_catalog: Path, small_config: SynthConfig
    ) -> None:
        side = small_config.size
        catalog = Catalog.load(small_catalog)
        for i in range(len(catalog)):
            row = catalog.frame.iloc[i]
            assert re.fullmatch(rf"images/{row.style_id}/{row.product_id}_\d+\.jpg", row.image_path)
            with Image.open(catalog.path_of(i)) as image:
                assert image.format == "JPEG" and image.size == (side, side) and image.mode == "RGB"
            mask = np.asarray(Image.open(catalog.mask_path_of(i)))  # type: ignore[arg-type]
            assert mask.shape == (small_config.size, small_config.size) and set(np.unique(mask)) <= {0, 255}
            ys, xs = np.nonzero(mask)
            box = (row.bbox_x0, row.bbox_y0, row.bbox_x1, row.bbox_y1)
            assert box == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1), "the mask's box, end-exclusive"

    def test_counts_follow_the_config(self, small_catalog: Path, small_config: SynthConfig) -> None:
        frame = Catalog.load(small_catalog).frame
        per_style = frame.groupby("style_id")["product_id"].nunique()
        per_product = frame.groupby("product_id").size()
        assert per_style.between(*small_config.variants).all()
        assert per_product.between(*small_config.images_per_product).all()
        assert (per_product > 1).any(), "some products have several photos"
        assert (frame.groupby("product_id")["color"].nunique() == 1).all()
        assert (frame.groupby("style_id")["color"].nunique() == per_style).all(), "one colourway per product"

    def test_styles_table_names_each_siblings_changed_detail(self, small_catalog: Path) -> None:
        styles = pd.read_csv(small_catalog.parent / "styles.csv", dtype=str, keep_default_na=False)
        frame = Catalog.load(small_catalog).frame
        assert sorted(styles["style_id"]) == sorted(frame["style_id"].unique())
        siblings = styles[styles["sibling_of"] != ""]
        assert len(siblings) > 0 and (siblings["changed_axis"] != "").all()
        firsts = styles.set_index("style_id").loc[siblings["sibling_of"]]
        assert (firsts["cluster_id"].to_numpy() == siblings["cluster_id"].to_numpy()).all()
        assert (firsts["sibling_of"] == "").all(), "siblings point at their cluster's first style"

    def test_split_by_style(self, small_catalog: Path) -> None:
        frame = Catalog.load(small_catalog).frame
        assert (frame.groupby("style_id")["split"].nunique() == 1).all()
        styles = frame.drop_duplicates("style_id")["split"].value_counts()
        assert styles.to_dict() == {"train": 28, "test": 8, "val": 4}

    def test_same_config_writes_identical_bytes_whatever_the_workers(
        self, small_catalog: Path, small_config: SynthConfig, tmp_path: Path
    ) -> None:
        again = write_synthetic_catalog(tmp_path / "again", small_config, workers=2, progress=False)
        assert tree_digest(again.parent) == tree_digest(small_catalog.parent)

    def test_another_seed_writes_other_images(self, tmp_path: Path) -> None:
        a = write_synthetic_catalog(tmp_path / "a", SynthConfig(styles=3, seed=1, size=48), progress=False)
        b = write_synthetic_catalog(tmp_path / "b", SynthConfig(styles=3, seed=2, size=48), progress=False)
        assert tree_digest(a.parent).get("images/S00000/S00000_c0_0.jpg") != tree_digest(b.parent).get(
            "images/S00000/S00000_c0_0.jpg")

    def test_without_masks(self, tmp_path: Path) -> None:
        config = SynthConfig(styles=3, size=48, masks=False)
        manifest = write_synthetic_catalog(tmp_path, config, progress=False)
        catalog = Catalog.load(manifest)
        assert "mask_path" not in catalog.frame.columns and catalog.has_bbox()
        assert not (tmp_path / "masks").exists()

    def test_rerun_with_fewer_styles_removes_stale_files(self, tmp_path: Path) -> None:
        write_synthetic_catalog(tmp_path, SynthConfig(styles=6, size=48), progress=False)
        manifest = write_synthetic_catalog(tmp_path, SynthConfig(styles=2, size=48), progress=False)
        frame = Catalog.load(manifest).frame
        listed = set(frame["image_path"]) | set(frame["mask_path"])
        listed |= {"manifest.csv", "styles.csv", "synth.json"}
        assert set(tree_digest(tmp_path)) == listed
        assert sorted(p.name for p in (tmp_path / "images").iterdir()) == ["S00000", "S00001"]

    def test_refuses_to_overwrite_a_foreign_manifest(self, tmp_path: Path) -> None:
        (tmp_path / "manifest.csv").write_text("image_path,product_id\na.jpg,p1\n")
        with pytest.raises(ColorVariantsError, match="not written by"):
            write_synthetic_catalog(tmp_path, SynthConfig(styles=2, size=48), progress=False)
        assert (tmp_path / "manifest.csv").read_text() == "image_path,product_id\na.jpg,p1\n"


class TestVariantsDifferOnlyInColour:
    """Self-checks on a catalog drawn without nuisance (canonical pose on white)."""

    def test_variants_of_a_style_share_the_exact_mask(self, clean_catalog: Path) -> None:
        frame = Catalog.load(clean_catalog).frame
        for _, style in frame.groupby("style_id"):
            masks = {(clean_catalog.parent / p).read_bytes() for p in style["mask_path"]}
            assert len(masks) == 1
            assert len(style.drop_duplicates(["bbox_x0", "bbox_y0", "bbox_x1", "bbox_y1"])) == 1

    def test_variants_differ_in_colour_and_photos_of_a_product_are_alike(self, clean_catalog: Path) -> None:
        frame = Catalog.load(clean_catalog).frame
        for _, style in frame.groupby("style_id"):
            mask = np.asarray(Image.open(clean_catalog.parent / style["mask_path"].iloc[0])) > 0
            firsts = style.drop_duplicates("product_id")["image_path"].tolist()
            garments = [_pixels(clean_catalog.parent / p)[mask] for p in firsts]
            for i in range(len(garments)):
                for j in range(i + 1, len(garments)):
                    changed = (np.abs(garments[i] - garments[j]).max(axis=-1) > 30).mean()
                    assert changed > 0.01, f"colour variants look alike: {firsts[i]}, {firsts[j]}"
            for _, rows in style.groupby("product_id"):  # no nuisance: every photo of a product is the same
                assert len({(clean_catalog.parent / p).read_bytes() for p in rows["image_path"]}) == 1

    def test_siblings_in_the_same_colourway_still_look_different(self, clean_catalog: Path) -> None:
        frame = Catalog.load(clean_catalog).frame.drop_duplicates("product_id")
        compared = 0
        for _, cluster in frame.groupby("cluster_id"):
            first = cluster[cluster["style_id"] == cluster["style_id"].min()]
            for _, sibling in cluster[cluster["style_id"] != first["style_id"].iloc[0]].groupby("style_id"):
                # A shared colourway has the same base colour (a solid sibling names only that: "navy").
                base_a, base_b = first["color"].str.split("/").str[0], sibling["color"].str.split("/").str[0]
                shared = set(base_a) & set(base_b)
                assert shared, "siblings share a colourway"
                colour = sorted(shared)[0]
                a = _pixels(clean_catalog.parent / first.loc[base_a == colour, "image_path"].iloc[0])
                b = _pixels(clean_catalog.parent / sibling.loc[base_b == colour, "image_path"].iloc[0])
                assert (np.abs(a - b).max(axis=-1) > 30).mean() >= 0.005
                compared += 1
        assert compared >= 3


def test_colour_histogram_cannot_find_variants_but_shape_can(small_catalog: Path) -> None:
    """Nearest neighbour among *other* products: a colour histogram is near chance, the mask shape is not."""
    frame = Catalog.load(small_catalog).frame
    root = small_catalog.parent
    hist = np.stack([_colour_histogram(root / p) for p in frame["image_path"]])
    shape = np.stack([_mask_vector(root / p) for p in frame["mask_path"]])
    hist_recall = _recall_at_1(hist, frame)
    shape_recall = _recall_at_1(shape, frame)
    assert hist_recall < 0.15, f"colour histogram finds variants too often ({hist_recall:.0%})"
    assert shape_recall > hist_recall + 0.15, f"shape {shape_recall:.0%} vs colour {hist_recall:.0%}"


def _pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.int32)


def _colour_histogram(path: Path) -> np.ndarray:
    q = _pixels(path) // 32
    h = np.bincount((q[..., 0] * 64 + q[..., 1] * 8 + q[..., 2]).ravel(), minlength=512).astype(float)
    h = np.sqrt(h / h.sum())
    return h / np.linalg.norm(h)


def _mask_vector(path: Path) -> np.ndarray:
    m = np.asarray(Image.open(path).resize((32, 32)), dtype=float).ravel()
    return m / (np.linalg.norm(m) + 1e-9)


def _recall_at_1(features: np.ndarray, frame: pd.DataFrame) -> float:
    sim = features @ features.T
    product, style = frame["product_id"].to_numpy(), frame["style_id"].to_numpy()
    hits = []
    for i in range(len(frame)):
        other = product != product[i]  # the same product's other photo is not a colour variant
        j = int(np.argmax(np.where(other, sim[i], -np.inf)))
        hits.append(style[j] == style[i])
    return float(np.mean(hits))
