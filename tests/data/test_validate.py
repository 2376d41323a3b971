"""Tests for colorvariants.data.validate and ``colorvariants validate``: each broken input, its finding."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from colorvariants.cli.commands import validate as validate_cmd
from colorvariants.data.catalog import Catalog, read_manifest_frame
from colorvariants.data.validate import ValidationReport, validate_catalog


def _run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    validate_cmd.add_arguments(parser)
    return validate_cmd.run(parser.parse_args(argv))


def _corpus_catalog(manifest: Path) -> Catalog:
    """The corpus has structural errors too: load it the way ``validate`` does, without raising."""
    return Catalog.from_frame(read_manifest_frame(manifest), manifest.parent, source=manifest, check=False)


def _by_code(report: ValidationReport) -> dict[str, list]:
    out: dict[str, list] = {}
    for p in report.problems:
        out.setdefault(p.code, []).append(p)
    return out


@pytest.fixture
def corpus_manifest(tmp_path, broken_files, manifest_writer) -> Path:
    """A manifest whose rows hit every kind of broken input once (plus good rows around them)."""
    root = tmp_path / "root"
    shutil.copytree(broken_files.root / "img", root / "img")
    rows = [
        {"image_path": "img/good.jpg", "product_id": "p1", "style_id": "s1", "split": "train"},
        {"image_path": "img/cmyk.jpg", "product_id": "p2", "style_id": "s1", "split": "train"},
        {"image_path": "img/truncated.jpg", "product_id": "p3", "style_id": "s2", "split": "train"},
        {"image_path": "img/empty.jpg", "product_id": "p4", "style_id": "s2", "split": "train"},
        {"image_path": "img/really_png.jpg", "product_id": "p5", "style_id": "s3", "split": "train"},
        {"image_path": "img/grey16.png", "product_id": "p6", "style_id": "s3", "split": "train"},
        {"image_path": "img/palette_alpha.png", "product_id": "p7", "style_id": "s4", "split": "val"},
        {"image_path": "img/bomb.png", "product_id": "p8", "style_id": "s4", "split": "val"},
        {"image_path": "../outside.jpg", "product_id": "p9", "style_id": "s5", "split": "val"},
        {"image_path": "img/good.jpg", "product_id": "p1", "style_id": "s1", "split": "train"},  # duplicate
        # p2 again, under another style:
        {"image_path": "img/cutout.png", "product_id": "p2", "style_id": "s6", "split": "test"},
        {"image_path": "img/missing.jpg", "product_id": "p10", "style_id": "s7", "split": "test"},
        {"image_path": "img/error_page.jpg", "product_id": "p11", "style_id": "s8", "split": "test"},
        {"image_path": "img/truncated.png", "product_id": "p12", "style_id": "s8", "split": "test"},
    ]
    Image.new("RGB", (40, 40)).save(tmp_path / "outside.jpg")  # exists, but must not be opened
    return manifest_writer(root / "manifest.csv", rows)


class TestCorpus:
    def test_every_broken_input_reported(self, corpus_manifest):
        report = validate_catalog(_corpus_catalog(corpus_manifest), progress=False, min_side=20)
        codes = _by_code(report)
        expect_errors = {
            "truncated": 3, "empty-file": 4, "image-too-large": 8, "path-escapes-root": 9,
            "duplicate-row": 10, "product-in-two-styles": 2, "missing-file": 12, "not-an-image": 13,
        }
        for code, row in expect_errors.items():
            assert code in codes, code
            assert all(p.severity == "error" for p in codes[code])
            assert row in [p.row for p in codes[code]], (code, [p.row for p in codes[code]])
        assert [p.row for p in codes["wrong-extension"]] == [5]
        wrong = codes["wrong-extension"][0]
        assert wrong.severity == "warning" and "PNG" in wrong.message
        assert "really_png.png" in codes["wrong-extension"][0].fix
        assert {p.row for p in codes.get("truncated", []) + codes.get("corrupt-image", [])} >= {3, 14}
        # CMYK, 16-bit and palette+alpha rows are fine.
        decode_codes = {"truncated", "corrupt-image", "not-an-image", "empty-file", "image-too-large"}
        assert not [p for p in report.problems if p.row in (2, 6, 7) and p.code in decode_codes]
        opened = " ".join(str(p.file) for p in report.problems if p.code != "path-escapes-root")
        assert "outside.jpg" not in opened
        for p in report.errors:  # every finding says where and how to fix it
            assert p.fix and (p.row is not None or p.file)
        assert not report.ok and len(report.errors) >= 9
        assert report.counts["all"]["rows"] == 14 and report.counts["train"]["styles"] == 3

    def test_files_named_in_errors(self, corpus_manifest):
        report = validate_catalog(_corpus_catalog(corpus_manifest), progress=False)
        trunc = next(p for p in report.problems if p.row == 3)
        assert trunc.file.endswith("truncated.jpg") and "re-download" in trunc.fix
        assert "row 3" in str(trunc) and "Fix:" in str(trunc)


class TestDataProblems:
    def test_clean_catalog_ok(self, make_catalog):
        report = validate_catalog(make_catalog().load(), progress=False)
        assert report.ok and report.problems == []
        assert report.counts["train"] == {"rows": 8, "products": 4, "styles": 2, "images": 8}
        assert set(report.counts) == {"train", "val", "test", "all"}

    def test_single_product_style_warns(self, make_catalog):
        cat = make_catalog(products_per_style=1).load()
        report = validate_catalog(cat, progress=False, check_files=False)
        single = _by_code(report)["single-product-style"]
        assert len(single) == 4 and all(p.severity == "warning" for p in single)
        assert "cannot be evaluated: no colour variant to find" in single[0].message
        assert single[0].row == 1 and report.ok

    def test_missing_style_column_warns(self, make_catalog):
        frame = make_catalog().load().frame.drop(columns="style_id")
        cat = Catalog.from_frame(frame.drop(columns="row"), make_catalog(name="x").root)
        report = validate_catalog(cat, check_files=False, progress=False)
        assert [p.code for p in report.problems if p.code == "no-style-column"] == ["no-style-column"]
        assert report.ok

    def test_image_in_many_products_lists_a_few_ids_and_the_count(self, make_catalog):
        cat = make_catalog().load()
        cat.frame["image_path"] = cat.frame.loc[0, "image_path"]  # one placeholder image for all 16 rows
        cat.frame["product_id"] = [f"p{i:02d}" for i in range(len(cat))]
        shared = _by_code(validate_catalog(cat, check_files=False, progress=False))["image-in-two-products"]
        assert len(shared) == 1 and shared[0].row == 1
        assert "listed for 16 products: ['p00', 'p01', 'p02', 'p03', 'p04'] and 11 more." in shared[0].message
        assert "p05" not in shared[0].message

    def test_style_split_leak_and_unknown_split(self, make_catalog):
        cat = make_catalog().load()
        cat.frame.loc[0, "split"] = "val"  # style s0 now in train and val
        cat.frame.loc[15, "split"] = "tset"
        codes = _by_code(validate_catalog(cat, check_files=False, progress=False))
        assert codes["style-in-two-splits"][0].row == 1
        assert codes["unknown-split"][0].row == 16 and "tset" in codes["unknown-split"][0].message

    def test_small_image_bbox_and_masks(self, make_catalog):
        spec = make_catalog(masks=True, bbox=True, sizes=((24, 20),))
        cat = spec.load()
        cat.frame.loc[1, "bbox_x1"] = 500.0
        cat.frame.loc[2, ["bbox_x0", "bbox_x1"]] = [10.0, 5.0]
        Image.new("L", (12, 10), 0).save(cat.root / cat.frame.at[3, "mask_path"])
        (cat.root / cat.frame.at[4, "mask_path"]).write_bytes(b"")
        codes = _by_code(validate_catalog(cat, progress=False, min_side=32))
        assert len(codes["too-small"]) == 16
        assert codes["bbox-outside-image"][0].row == 2
        assert codes["bad-bbox"][0].row == 3
        assert codes["mask-size-mismatch"][0].row == 4 and codes["empty-mask"][0].row == 4
        assert codes["mask-empty-file"][0].row == 5 and codes["mask-empty-file"][0].severity == "error"

    def test_mask_path_traversal(self, make_catalog):
        cat = make_catalog(masks=True).load()
        cat.frame.loc[0, "mask_path"] = "../../etc/passwd"
        codes = _by_code(validate_catalog(cat, progress=False))
        assert codes["mask-path-escapes-root"][0].row == 1

    def test_report_format_and_dict(self, make_catalog):
        cat = make_catalog().load()
        cat.path_of(0).write_bytes(b"")
        report = validate_catalog(cat, progress=False)
        text = report.format()
        assert "FAILED: 1 error(s)" in text and "row 1" in text and "empty-file" in text and "train" in text
        d = report.to_dict()
        assert d["ok"] is False and d["errors"] == 1 and d["problems"][0]["code"] == "empty-file"
        json.dumps(d)

    def test_format_caps_each_code(self, make_catalog):
        cat = make_catalog(n_styles=6, products_per_style=1).load()
        text = validate_catalog(cat, check_files=False, progress=False).format(max_per_code=2)
        assert text.count("single-product-style (row") == 2
        assert "... and 4 more 'single-product-style'" in text


class TestCli:
    def test_clean_exit_zero_and_json(self, make_catalog, tmp_path, capsys):
        spec = make_catalog()
        out = tmp_path / "report.json"
        assert _run_cli(["--manifest", str(spec.manifest), "--json", str(out), "--no-progress"]) == 0
        assert "OK: no errors" in capsys.readouterr().out
        assert json.loads(out.read_text())["ok"] is True

    def test_errors_exit_one(self, corpus_manifest, capsys):
        assert _run_cli(["--manifest", str(corpus_manifest), "--no-progress"]) == 1
        out = capsys.readouterr().out
        assert "truncated" in out and "path-escapes-root" in out and "FAILED" in out

    def test_allow_outside_root_and_no_files(self, corpus_manifest, capsys):
        code = _run_cli(["--manifest", str(corpus_manifest), "--allow-outside-root", "--no-files"])
        out = capsys.readouterr().out
        assert code == 1 and "path-escapes-root" not in out and "not checked" in out
        assert "truncated" not in out

    def test_missing_columns_give_a_report(self, tmp_path, capsys, manifest_writer):
        manifest = manifest_writer(tmp_path / "m.csv", [{"path": "a.jpg", "sku": "1"}])
        out_json = tmp_path / "r.json"
        assert _run_cli(["--manifest", str(manifest), "--json", str(out_json)]) == 1
        out = capsys.readouterr().out
        assert "missing-column" in out and "image_path" in out and "Fix:" in out
        assert json.loads(out_json.read_text())["problems"][0]["code"] == "missing-column"

    def test_through_main(self, make_catalog, capsys):
        from colorvariants.cli.main import main

        spec = make_catalog()
        spec.load().path_of(3).write_bytes(b"")
        assert main(["validate", "--manifest", str(spec.manifest), "--no-progress"]) == 1
        assert "empty-file" in capsys.readouterr().out
        assert main(["validate", "--manifest", str(spec.root / "absent.csv")]) == 2  # unreadable manifest


class TestHints:
    """Validation that helps fix real files: the likely cause, once, with the CLI's own words."""

    @pytest.mark.parametrize("header,hint", [
        ("image_path;product_id;style_id", "separated by semicolons"),
        ("Image Path,Product ID,style_id", "rename the column(s) 'Image Path' to 'image_path', 'Product ID'"),
        ("IMAGE_PATH,product_id", "rename the column(s) 'IMAGE_PATH' to 'image_path'"),
    ])
    def test_missing_columns_say_why(self, tmp_path, header, hint):
        manifest = tmp_path / "m.csv"
        manifest.write_text(header + "\n" + header.replace("_", "").lower() + "\n")
        report = validate_catalog(_corpus_catalog(manifest), check_files=False)
        (problem,) = report.problems
        assert problem.code == "missing-column" and hint in problem.fix
        assert "'row'" not in problem.message  # the tool's own row numbers are not a column the user wrote

    def test_windows_separators_get_a_hint(self, make_catalog):
        cat = make_catalog().load()
        cat.frame.loc[0, "image_path"] = cat.frame.loc[0, "image_path"].replace("/", "\\")
        missing = [p for p in validate_catalog(cat, progress=False).problems if p.code == "missing-file"]
        assert len(missing) == 1 and "Windows separators" in missing[0].fix and "write it with /" in missing[0].fix

    def test_a_wrong_root_is_one_error(self, make_catalog, tmp_path, capsys):
        spec = make_catalog()
        cat = Catalog.from_frame(spec.load().frame, tmp_path / "no-such-root", check=False)
        report = validate_catalog(cat, progress=False)
        assert [p.code for p in report.errors] == ["root-not-found"]
        from colorvariants.cli.main import main

        assert main(["embed", "--ckpt", str(tmp_path / "m.pt"), "--manifest", str(spec.manifest), "--root",
                     str(tmp_path / "no-such-root"), "--out", str(tmp_path / "e")]) == 2
        err = capsys.readouterr().err
        assert "no-such-root' does not exist" in err and err.count("\n") == 1 and "mask" not in err

    def test_a_png_with_a_large_icc_profile_is_not_corrupt(self, make_catalog):
        cat = make_catalog().load()
        path = cat.path_of(0).with_suffix(".png")
        Image.new("RGB", (48, 48), (200, 30, 30)).save(path, icc_profile=b"\0" * (20 * 2**20))  # 20 MB profile
        cat.frame.loc[0, "image_path"] = str(path.relative_to(cat.root))
        assert not [p for p in validate_catalog(cat, progress=False).problems if p.row == int(cat.frame.at[0, "row"])
                    and p.severity == "error"]

    def test_fixes_name_the_cli_flag(self, broken_files):
        from colorvariants.data.images import open_image
        from colorvariants.errors import ImageLoadError

        with pytest.raises(ImageLoadError) as info:
            open_image(broken_files.root / "img" / "truncated.jpg")
        assert "--on-error skip" in info.value.fix and "on_error=" not in info.value.fix

    def test_each_distinct_file_is_decoded_once(self, make_catalog, monkeypatch):
        import colorvariants.data.validate as validate_mod

        spec = make_catalog()
        cat = spec.load()
        files = cat.frame["image_path"].tolist()[:5]
        frame = cat.frame.iloc[[i % 5 for i in range(20_000)]].reset_index(drop=True)
        frame["product_id"] = [f"p{i}" for i in range(len(frame))]
        frame["row"] = range(1, len(frame) + 1)
        big = Catalog.from_frame(frame.drop(columns=["row"]), cat.root, check=False)
        decoded: list[Path] = []
        real = validate_mod.open_image
        monkeypatch.setattr(validate_mod, "open_image", lambda p, **kw: decoded.append(p) or real(p, **kw))
        report = validate_catalog(big, progress=False)
        assert sorted(decoded) == sorted(cat.root / f for f in files)
        assert report.counts["all"]["rows"] == 20_000 and not report.errors
