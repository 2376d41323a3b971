"""preprocess_catalog: crops, background removal, cached masks, a loadable manifest, and resuming after a crash."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageDraw

from colorvariants.cli.main import main
from colorvariants.data import preprocess as prep
from colorvariants.data.background.masks import mask_iou, read_mask
from colorvariants.data.catalog import Catalog
from colorvariants.data.preprocess import preprocess_catalog
from colorvariants.errors import ColorVariantsError, ImageLoadError, ManifestError

W, H = 120, 150
BOX = (30, 40, 90, 130)  # where every fixture garment is (x0, y0, x1, y1, exclusive)
COLOURS = [(200, 30, 30), (30, 60, 200), (30, 140, 60), (120, 40, 140), (20, 20, 20), (220, 140, 20)]


def _garment_mask() -> np.ndarray:
    m = Image.new("L", (W, H), 0)
    ImageDraw.Draw(m).ellipse(BOX[:2] + (BOX[2] - 1, BOX[3] - 1), fill=255)
    return np.asarray(m)


def _photo(colour: tuple[int, int, int], seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    backdrop = np.clip(242 + rng.normal(0, 2, (H, W, 3)), 0, 255).astype(np.uint8)
    photo = Image.fromarray(backdrop)
    photo.paste(Image.new("RGB", (W, H), colour), mask=Image.fromarray(_garment_mask()))
    return photo


def write_catalog(root: Path, n: int = 6, *, bbox: bool = True, masks: bool = False) -> Catalog:
    """``n`` studio photos (PNG) of 3 styles x 2 colours, each garment inside ``BOX``, with a manifest."""
    rows = []
    for i in range(n):
        rel = f"imgs/s{i // 2}/p{i}.png"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        _photo(COLOURS[i % len(COLOURS)], i).save(root / rel)
        row: dict[str, object] = {"image_path": rel, "product_id": f"p{i}", "style_id": f"s{i // 2}",
                                  "split": "train"}
        if bbox:
            row.update(dict(zip(("bbox_x0", "bbox_y0", "bbox_x1", "bbox_y1"), BOX, strict=True)))
        if masks:
            mrel = f"masks_src/p{i}.png"
            (root / mrel).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(_garment_mask()).save(root / mrel)
            row["mask_path"] = mrel
        rows.append(row)
    pd.DataFrame(rows).to_csv(root / "manifest.csv", index=False)
    return Catalog.load(root / "manifest.csv")


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    return write_catalog(tmp_path / "src")


class TestCrops:
    def test_bbox_crop_uses_the_bbox(self, catalog: Catalog, tmp_path: Path) -> None:
        out = preprocess_catalog(catalog, tmp_path / "out", crop="bbox", margin=0.0, workers=1, progress=False)
        new = Catalog.load(out)
        assert len(new) == len(catalog)
        x0, y0, x1, y1 = BOX
        for i in range(len(new)):
            with Image.open(new.path_of(i)) as im:
                got = np.asarray(im.convert("RGB"))
            with Image.open(catalog.path_of(i)) as im:
                want = np.asarray(im.convert("RGB"))[y0:y1, x0:x1]
            assert np.array_equal(got, want)  # PNG in, PNG out: the exact pixels of the box
        assert new.frame[["bbox_x0", "bbox_y0", "bbox_x1", "bbox_y1"]].iloc[0].tolist() == [0, 0, x1 - x0, y1 - y0]
        assert new.frame["source_image_path"].tolist() == catalog.frame["image_path"].tolist()
        assert not new.has_masks()  # nothing computed a mask

    def test_margin_grows_the_box_and_stays_inside_the_image(self, catalog: Catalog, tmp_path: Path) -> None:
        out = preprocess_catalog(catalog, tmp_path / "out", crop="bbox", margin=0.1, workers=1, progress=False)
        new = Catalog.load(out)
        with Image.open(new.path_of(0)) as im:
            assert im.size == (60 + 2 * 6, 90 + 2 * 9)
        assert new.frame.loc[0, "bbox_x0"] == 6 and new.frame.loc[0, "bbox_y1"] == 9 + 90

    def test_bbox_crop_without_boxes_is_refused(self, tmp_path: Path) -> None:
        cat = write_catalog(tmp_path / "src", bbox=False)
        with pytest.raises(ManifestError, match="bbox"):
            preprocess_catalog(cat, tmp_path / "out", crop="bbox", workers=1, progress=False)

    def test_mask_crop_uses_the_manifest_masks(self, tmp_path: Path) -> None:
        cat = write_catalog(tmp_path / "src", bbox=False, masks=True)
        out = preprocess_catalog(cat, tmp_path / "out", crop="mask", margin=0.0, workers=1, progress=False)
        new = Catalog.load(out)
        assert new.has_masks()
        with Image.open(new.path_of(0)) as im:
            assert im.size == (BOX[2] - BOX[0], BOX[3] - BOX[1])
        mask = read_mask(new.mask_path_of(0))
        assert mask.shape == (BOX[3] - BOX[1], BOX[2] - BOX[0])
        want = _garment_mask()[BOX[1] : BOX[3], BOX[0] : BOX[2]]
        assert np.array_equal(mask, want)


    def test_a_prepared_catalog_can_be_prepared_again(self, catalog: Catalog, tmp_path: Path) -> None:
        first = Catalog.load(preprocess_catalog(catalog, tmp_path / "a", crop="bbox", workers=1, progress=False))
        second = Catalog.load(preprocess_catalog(first, tmp_path / "b", crop="mask", workers=1, progress=False))
        assert second.frame["source_image_path"].tolist() == first.frame["image_path"].tolist()
        assert second.has_masks() and len(second) == len(catalog)


class TestSyntheticCatalog:
    def test_mask_crop_keeps_masks_and_boxes_aligned(self, tmp_path: Path) -> None:
        from colorvariants.data.synth import SynthConfig, write_synthetic_catalog

        src = Catalog.load(write_synthetic_catalog(tmp_path / "synth", SynthConfig(styles=2, size=64, seed=3),
                                                   progress=False))
        new = Catalog.load(preprocess_catalog(src, tmp_path / "out", crop="mask", margin=0.0, workers=1,
                                              progress=False))
        assert len(new) == len(src) and new.has_masks()
        for i in range(len(new)):
            mask = read_mask(new.mask_path_of(i))
            with Image.open(new.path_of(i)) as im:
                assert im.size == (mask.shape[1], mask.shape[0])
            x0, y0, x1, y1 = (int(v) for v in src.frame.loc[i, ["bbox_x0", "bbox_y0", "bbox_x1", "bbox_y1"]])
            assert mask.shape == (y1 - y0, x1 - x0)  # cropped to the generator's own mask box
            want = read_mask(src.mask_path_of(i))[y0:y1, x0:x1]
            assert np.array_equal(mask, want)
            assert new.frame.loc[i, ["bbox_x0", "bbox_y0", "bbox_x1", "bbox_y1"]].tolist() == [0, 0, x1 - x0, y1 - y0]


class TestBackgroundRemoval:
    def test_floodfill_removal_paints_background_and_caches_masks(self, tmp_path: Path) -> None:
        cat = write_catalog(tmp_path / "src", bbox=False)
        out = preprocess_catalog(cat, tmp_path / "out", crop="mask", remove_background="floodfill", margin=0.0,
                                 background_fill=(0, 255, 0), workers=1, progress=False)
        new = Catalog.load(out)
        assert new.has_masks() and new.has_bbox()
        want = _garment_mask()[BOX[1] : BOX[3], BOX[0] : BOX[2]]
        for i in range(len(new)):
            mask = read_mask(new.mask_path_of(i))
            assert mask.shape == want.shape  # cropped to the garment's box (margin 0)
            assert mask_iou(mask, want) > 0.95
            with Image.open(new.path_of(i)) as im:
                pixels = np.asarray(im.convert("RGB"))
            assert (pixels[mask == 0] == (0, 255, 0)).all()  # background painted the fill colour
            assert (pixels[mask == 255] != (0, 255, 0)).any(axis=-1).all()
            x0, y0, x1, y1 = (int(v) for v in new.frame.loc[i, ["bbox_x0", "bbox_y0", "bbox_x1", "bbox_y1"]])
            assert (x0, y0) == (0, 0) and (x1, y1) == (mask.shape[1], mask.shape[0])

    def test_rembg_without_package_fails_before_any_work(self, catalog: Catalog, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
        import sys

        monkeypatch.setitem(sys.modules, "rembg", None)
        with pytest.raises(ColorVariantsError, match="colorvariants\\[rembg\\]"):
            preprocess_catalog(catalog, tmp_path / "out", remove_background="rembg", workers=1, progress=False)
        assert not (tmp_path / "out" / "images").exists()


class _Crash(BaseException):
    """Stands in for the process being killed mid-run."""


class TestResume:
    def test_resumes_after_a_crash_without_redoing_finished_images(
        self, catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        out_dir = tmp_path / "out"
        real_run = prep._Worker.run
        calls: list[str] = []

        def crash_on_fourth(self: prep._Worker, job: prep._Job) -> prep._Done:
            if len(calls) == 3:
                raise _Crash
            calls.append(job.out_image)
            return real_run(self, job)

        monkeypatch.setattr(prep._Worker, "run", crash_on_fourth)
        with pytest.raises(_Crash):
            preprocess_catalog(catalog, out_dir, crop="mask", remove_background="floodfill", workers=1,
                               progress=False)
        assert not (out_dir / "manifest.csv").exists()  # the manifest is written last
        finished = {p: (out_dir / p).stat().st_mtime_ns for p in calls}
        assert len(finished) == 3

        redone: list[str] = []

        def counting(self: prep._Worker, job: prep._Job) -> prep._Done:
            redone.append(job.out_image)
            return real_run(self, job)

        monkeypatch.setattr(prep._Worker, "run", counting)
        out = preprocess_catalog(catalog, out_dir, crop="mask", remove_background="floodfill", workers=1,
                                 progress=False)
        assert set(redone).isdisjoint(finished) and len(redone) == len(catalog) - 3
        assert {p: (out_dir / p).stat().st_mtime_ns for p in finished} == finished  # untouched
        new = Catalog.load(out)
        assert len(new) == len(catalog) and new.has_masks()

    def test_partial_file_and_torn_journal_line_are_not_taken_as_done(self, catalog: Catalog, tmp_path: Path) -> None:
        out_dir = tmp_path / "out"
        preprocess_catalog(catalog, out_dir, crop="bbox", workers=1, progress=False)
        journal = out_dir / "progress.jsonl"
        lines = journal.read_text().splitlines()
        victim = json.loads(lines[-1])["out_image"]
        journal.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:20])  # killed while writing the record
        (out_dir / victim).write_bytes(b"\x89PNG half a file")  # and a non-atomic writer left junk
        out = preprocess_catalog(catalog, out_dir, crop="bbox", workers=1, progress=False)
        with Image.open(out_dir / victim) as im:
            im.load()  # whole again
        assert len(Catalog.load(out)) == len(catalog)
        assert all(json.loads(line) for line in journal.read_text().splitlines()[:-2])

    def test_other_settings_into_the_same_folder_are_refused(self, catalog: Catalog, tmp_path: Path) -> None:
        preprocess_catalog(catalog, tmp_path / "out", crop="bbox", workers=1, progress=False)
        with pytest.raises(ColorVariantsError, match="other settings"):
            preprocess_catalog(catalog, tmp_path / "out", crop="none", workers=1, progress=False)


    def test_an_image_replaced_in_place_is_refused_on_resume(self, catalog: Catalog, tmp_path: Path,
                                                              replace_in_place) -> None:
        preprocess_catalog(catalog, tmp_path / "out", crop="bbox", workers=1, progress=False)
        replace_in_place(catalog.path_of(3))  # its output (and any not yet written) would mix old and new
        with pytest.raises(ColorVariantsError, match=rf"images changed since.*e\.g\. {re.escape(str(catalog.path_of(3)))}"):
            preprocess_catalog(catalog, tmp_path / "out", crop="bbox", workers=1, progress=False)

class TestErrors:
    def _break_one(self, catalog: Catalog) -> None:
        catalog.path_of(2).write_bytes(b"not an image")

    def test_raise_names_the_image(self, catalog: Catalog, tmp_path: Path) -> None:
        self._break_one(catalog)
        with pytest.raises(ImageLoadError, match="p2.png"):
            preprocess_catalog(catalog, tmp_path / "out", crop="bbox", workers=1, progress=False)

    def test_skip_leaves_the_row_out_and_lists_it(self, catalog: Catalog, tmp_path: Path) -> None:
        self._break_one(catalog)
        out = preprocess_catalog(catalog, tmp_path / "out", crop="bbox", workers=1, on_error="skip",
                                 progress=False)
        new = Catalog.load(out)
        assert "p2" not in set(new.frame["product_id"]) and len(new) == len(catalog) - 1
        skipped = pd.read_csv(tmp_path / "out" / "skipped.csv")
        assert skipped["row"].tolist() == [3]


def test_process_pool_gives_the_same_result(catalog: Catalog, tmp_path: Path) -> None:
    serial = Catalog.load(preprocess_catalog(catalog, tmp_path / "a", crop="mask", remove_background="floodfill",
                                             workers=1, progress=False))
    pooled = Catalog.load(preprocess_catalog(catalog, tmp_path / "b", crop="mask", remove_background="floodfill",
                                             workers=2, progress=False))
    pd.testing.assert_frame_equal(serial.frame, pooled.frame)
    for i in range(len(serial)):
        assert np.array_equal(read_mask(serial.mask_path_of(i)), read_mask(pooled.mask_path_of(i)))


def test_cli_preprocess(catalog: Catalog, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert catalog.source is not None
    code = main(["preprocess", "--manifest", str(catalog.source), "--out", str(tmp_path / "out"), "--crop", "bbox",
                 "--workers", "1", "--no-progress"])
    assert code == 0
    assert len(Catalog.load(tmp_path / "out" / "manifest.csv")) == len(catalog)
    code = main(["preprocess", "--manifest", str(catalog.source), "--out", str(tmp_path / "o2"),
                 "--rembg-model", "u2net"])
    assert code == 2 and "--rembg-model" in capsys.readouterr().err
