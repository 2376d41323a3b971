"""DeepFashion In-shop import on a tiny tree in the official layout, its format checks, and the Recall@k protocol."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from colorvariants.cli.main import main
from colorvariants.data.catalog import Catalog
from colorvariants.data.importers import IMPORTERS
from colorvariants.data.importers.deepfashion_inshop import import_deepfashion_inshop, read_deepfashion_inshop
from colorvariants.errors import EmbeddingError, ManifestError
from colorvariants.retrieval.inshop import inshop_protocol_metrics

# (image_name, item_id, evaluation_status, bbox) as in the official files (fixed-width padding included).
ROWS = [
    ("img/WOMEN/Dresses/id_00000002/02_1_front.jpg", "id_00000002", "train", (50, 49, 208, 235)),
    ("img/WOMEN/Dresses/id_00000002/02_2_side.jpg", "id_00000002", "train", (40, 30, 200, 250)),
    ("img/WOMEN/Dresses/id_00000002/04_1_front.jpg", "id_00000002", "train", (44, 31, 210, 251)),
    ("img/MEN/Denim/id_00000080/01_1_front.jpg", "id_00000080", "query", (10, 20, 240, 250)),
    ("img/MEN/Denim/id_00000080/01_2_side.jpg", "id_00000080", "gallery", (12, 22, 238, 248)),
    ("img/MEN/Denim/id_00000080/03_4_full.jpg", "id_00000080", "gallery", (1, 2, 255, 255)),
    ("img/WOMEN/Tees_Tanks/id_00000123/01_1_front.jpg", "id_00000123", "query", (30, 30, 220, 220)),
    ("img/WOMEN/Tees_Tanks/id_00000123/01_7_additional.jpg", "id_00000123", "gallery", (31, 31, 221, 221)),
]


def _listing(header: str, lines: list[str], count: int | None = None) -> str:
    return f"{len(lines) if count is None else count}\n{header}\n" + "".join(f"{line}\n" for line in lines)


def make_inshop(root: Path, *, bbox: bool = True, images: bool = True) -> Path:
    """A tiny In-shop tree: Img/img/..., Eval/list_eval_partition.txt, Anno/list_bbox_inshop.txt."""
    (root / "Eval").mkdir(parents=True)
    partition = [f"{name:<60}{item:<20}{status}" for name, item, status, _ in ROWS]
    (root / "Eval" / "list_eval_partition.txt").write_text(
        _listing("image_name item_id evaluation_status", partition))
    if bbox:
        (root / "Anno").mkdir()
        boxes = [f"{name:<60}1  1  {' '.join(map(str, box))}" for name, _, _, box in ROWS[:-1]]  # last: no box
        (root / "Anno" / "list_bbox_inshop.txt").write_text(
            _listing("image_name  clothes_type  pose_type  x_1  y_1  x_2  y_2", boxes))
    if images:
        for name, *_ in ROWS:
            (root / "Img" / name).parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (32, 32), (200, 200, 200)).save(root / "Img" / name)
    return root


class TestImport:
    def test_ids_splits_and_boxes(self, tmp_path: Path) -> None:
        result = import_deepfashion_inshop(make_inshop(tmp_path / "inshop"), tmp_path / "m.csv")
        assert result.image_root == tmp_path / "inshop" / "Img" and result.missing_images == 0
        assert result.splits == {"test": 5, "train": 3}
        cat = Catalog.load(result.manifest, root=result.image_root)
        f = cat.frame
        assert f["product_id"].tolist()[:4] == ["id_00000002_02", "id_00000002_02", "id_00000002_04",
                                                "id_00000080_01"]
        assert f["style_id"].tolist()[:3] == ["id_00000002"] * 3
        assert f["color"].tolist()[:3] == ["02", "02", "04"]  # strings: "02" stays "02"
        assert f["split"].tolist() == ["train"] * 3 + ["test"] * 5
        assert f["inshop_status"].tolist()[3:] == ["query", "gallery", "gallery", "query", "gallery"]
        assert f.loc[0, ["bbox_x0", "bbox_y0", "bbox_x1", "bbox_y1"]].tolist() == [50, 49, 208, 235]
        assert np.isnan(f.loc[7, "bbox_x0"])  # listed without a box
        assert all(p.is_file() for p in cat.paths)

    def test_without_box_file_or_images_says_so(self, tmp_path: Path) -> None:
        root = make_inshop(tmp_path / "inshop", bbox=False, images=False)
        result = import_deepfashion_inshop(root, tmp_path / "m.parquet")
        frame = pd.read_parquet(result.manifest)
        assert "bbox_x0" not in frame.columns
        assert result.missing_images == len(ROWS)
        assert any("list_bbox_inshop.txt" in n for n in result.notes)
        assert any("img.zip" in n for n in result.notes)

    def test_cli(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        root = make_inshop(tmp_path / "inshop")
        assert "deepfashion-inshop" in IMPORTERS
        code = main(["import", "deepfashion-inshop", "--root", str(root), "--out", str(tmp_path / "m.csv")])
        assert code == 0
        out = capsys.readouterr().out
        assert "wrote 8 images" in out and f"--root {root / 'Img'}" in out


class TestFormatErrors:
    def _partition(self, root: Path) -> Path:
        return root / "Eval" / "list_eval_partition.txt"

    def _corrupt(self, tmp_path: Path, line_number: int, text: str) -> Path:
        root = make_inshop(tmp_path / "inshop", images=False)
        path = self._partition(root)
        lines = path.read_text().splitlines()
        lines[line_number - 1] = text
        path.write_text("\n".join(lines) + "\n")
        return root

    @pytest.mark.parametrize(
        "text, message",
        [
            ("img/WOMEN/Dresses/id_00000002/02_1_front.jpg id_00000002", "expected 3 fields"),
            ("img/WOMEN/Dresses/id_00000002/02_1_front.jpg id_00000002 validation", "evaluation_status 'validation'"),
            ("img/WOMEN/Dresses/id_00000002/front.jpg id_00000002 train", "does not look like 02_1_front.jpg"),
            ("img/WOMEN/Dresses/id_00000002/02_1_front.jpg id_00000002 train", "listed twice (first on line 3)"),
        ],
    )
    def test_malformed_row_names_file_and_line(self, tmp_path: Path, text: str, message: str) -> None:
        root = self._corrupt(tmp_path, 5, text)
        with pytest.raises(ManifestError) as info:
            read_deepfashion_inshop(root)
        assert "list_eval_partition.txt" in str(info.value)
        assert "line 5" in str(info.value) and message in str(info.value)

    def test_wrong_header(self, tmp_path: Path) -> None:
        root = self._corrupt(tmp_path, 2, "image_name evaluation_status item_id")
        with pytest.raises(ManifestError, match="line 2: expected the header"):
            read_deepfashion_inshop(root)

    def test_truncated_file(self, tmp_path: Path) -> None:
        root = make_inshop(tmp_path / "inshop", images=False)
        path = self._partition(root)
        path.write_text("\n".join(path.read_text().splitlines()[:-2]) + "\n")
        with pytest.raises(ManifestError, match="count line says 8 rows but the file has 6"):
            read_deepfashion_inshop(root)

    def test_bad_box_line(self, tmp_path: Path) -> None:
        root = make_inshop(tmp_path / "inshop", images=False)
        path = root / "Anno" / "list_bbox_inshop.txt"
        lines = path.read_text().splitlines()
        lines[3] = lines[3].rsplit(" ", 1)[0] + " 2x5"
        path.write_text("\n".join(lines) + "\n")
        with pytest.raises(ManifestError, match="list_bbox_inshop.txt.*line 4: expected integers"):
            read_deepfashion_inshop(root)

    def test_missing_partition_file(self, tmp_path: Path) -> None:
        (tmp_path / "empty").mkdir()
        with pytest.raises(ManifestError, match="Eval/list_eval_partition.txt"):
            read_deepfashion_inshop(tmp_path / "empty")


class TestProtocol:
    def _ids(self, tmp_path: Path) -> pd.DataFrame:
        return read_deepfashion_inshop(make_inshop(tmp_path / "inshop", images=False))

    def test_known_embeddings_give_known_recall(self, tmp_path: Path) -> None:
        ids = self._ids(tmp_path)
        # rows 0-2 train (ignored), 3 query item 80, 4-5 gallery item 80, 6 query item 123, 7 gallery item 123.
        x = np.array([
            [9, 9, 9], [9, 9, 9], [9, 9, 9],
            [1.0, 0.0, 0.0],   # query 80: nearest gallery is row 7 (item 123), then row 4 (item 80)
            [0.6, 0.8, 0.0],
            [0.0, 0.0, 1.0],
            [0.0, 0.0, 2.0],   # query 123 (unnormalised on purpose): nearest is row 5 (item 80), then 7
            [0.9, 0.1, 0.3],
        ], dtype=np.float32)
        m = inshop_protocol_metrics(x, ids, ks=(1, 2, 3))
        # query 80 ranks: 7 (cos .94), 4 (.6), 5 (0): first hit at rank 2.
        # query 123 ranks: 5 (1.0), 7 (.31), 4 (0): first hit at rank 2.
        assert m["recall@1"] == 0.0 and m["recall@2"] == 1.0 and m["recall@3"] == 1.0
        assert m["queries"] == 2 and m["gallery"] == 3 and m["queries_without_match"] == 0

    def test_perfect_and_half(self, tmp_path: Path) -> None:
        ids = self._ids(tmp_path)
        x = np.eye(8, dtype=np.float32)[[0, 1, 2, 3, 3, 4, 5, 5]] + 0.01
        assert inshop_protocol_metrics(x, ids, ks=(1,))["recall@1"] == 1.0
        x[6] = x[5]  # query 123 now looks exactly like a gallery image of item 80: a miss at 1
        m = inshop_protocol_metrics(x, ids, ks=(1, 20))
        assert m["recall@1"] == 0.5 and m["recall@20"] == 1.0  # k beyond the gallery counts the whole gallery

    def test_needs_status_and_matching_rows(self, tmp_path: Path) -> None:
        ids = self._ids(tmp_path)
        with pytest.raises(EmbeddingError, match="inshop_status"):
            inshop_protocol_metrics(np.ones((8, 3), np.float32), ids.drop(columns=["inshop_status"]))
        with pytest.raises(EmbeddingError, match="same order"):
            inshop_protocol_metrics(np.ones((7, 3), np.float32), ids)
        bad = np.ones((8, 3), np.float32)
        bad[4] = 0
        with pytest.raises(EmbeddingError, match="zero"):
            inshop_protocol_metrics(bad, ids)


class TestEvaluateInshopCli:
    """import -> embed (an untrained network) -> ``evaluate --protocol inshop`` -> metrics.json, on the fixture."""

    def test_end_to_end(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        import json

        from colorvariants.models.checkpoint import save_model
        from colorvariants.retrieval.references import untrained_module

        root = make_inshop(tmp_path / "inshop")
        for name, item, *_ in ROWS:  # one random pattern per item: images of an item embed identically
            pattern = np.random.default_rng(int(item[3:])).integers(0, 256, (32, 32, 3), dtype=np.uint8)
            Image.fromarray(pattern).save(root / "Img" / name)
        model = save_model(untrained_module("resnet18", image_size=32), tmp_path / "model.pt")
        manifest, emb, out = tmp_path / "m.csv", tmp_path / "emb", tmp_path / "inshop.json"
        assert main(["import", "deepfashion-inshop", "--root", str(root), "--out", str(manifest)]) == 0
        assert main(["embed", "--ckpt", str(model), "--manifest", str(manifest), "--root", str(root / "Img"),
                     "--out", str(emb), "--cache-dir", str(tmp_path / "cache")]) == 0
        assert pd.read_parquet(emb / "ids.parquet")["inshop_status"].tolist() == [r[2] for r in ROWS]
        capsys.readouterr()

        assert main(["evaluate", "--embeddings", str(emb), "--protocol", "inshop", "--ks", "1,5",
                     "--out", str(out)]) == 0
        assert "recall@1=1.0000" in capsys.readouterr().out
        metrics = json.loads(out.read_text())
        assert metrics["protocol_name"] == "inshop" and "In-shop" in metrics["protocol"]
        assert metrics["recall@1"] == 1.0 and metrics["queries"] == 2 and metrics["gallery"] == 3

        # The default protocol on the same set still runs (colour variants: item 80 has variants 01 and 03).
        assert main(["evaluate", "--embeddings", str(emb), "--out", str(tmp_path / "default.json")]) == 0
        assert json.loads((tmp_path / "default.json").read_text())["protocol_name"] == "default"

    def test_without_split_says_how_to_fix(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        from colorvariants.retrieval.store import EmbeddingSet

        ids = read_deepfashion_inshop(make_inshop(tmp_path / "inshop", images=False)).drop(columns=["inshop_status"])
        EmbeddingSet(np.eye(len(ids), dtype=np.float32), ids, {}).save(tmp_path / "emb")
        code = main(["evaluate", "--embeddings", str(tmp_path / "emb"), "--protocol", "inshop",
                     "--out", str(tmp_path / "m.json")])
        assert code == 2 and not (tmp_path / "m.json").exists()
        assert "no 'inshop_status' column" in capsys.readouterr().err
