"""DeepFashion In-shop Clothes Retrieval -> colorvariants manifest.

The official release (Liu et al., "DeepFashion", CVPR 2016) is laid out as::

    ROOT/Img/img/WOMEN/Dresses/id_00000002/02_1_front.jpg      (img.zip extracted; ROOT/img/... also accepted)
    ROOT/Eval/list_eval_partition.txt   count line, header "image_name item_id evaluation_status", rows
    ROOT/Anno/list_bbox_inshop.txt      count line, header "image_name clothes_type pose_type x_1 y_1 x_2 y_2"

A file name's first field is the item's variant (``02`` in ``02_1_front.jpg``), which serves as a weak colour
label: ``product_id = item_id + "_" + variant``, ``style_id = item_id``, ``color = variant``. The official
``train`` rows become split ``train``; ``query`` and ``gallery`` become ``test`` with ``inshop_status`` keeping
which, for the standard Recall@k protocol (``colorvariants.retrieval.inshop``).

>>> frame = read_deepfashion_inshop("In-shop")       # doctest: +SKIP
>>> frame.loc[0, ["product_id", "style_id", "split"]].tolist()  # doctest: +SKIP
['id_00000002_02', 'id_00000002', 'train']
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from colorvariants.data.catalog import BBOX_COLUMNS, Catalog
from colorvariants.data.importers import ImportResult, register_importer
from colorvariants.errors import ManifestError

PARTITION_FILE = Path("Eval") / "list_eval_partition.txt"
BBOX_FILE = Path("Anno") / "list_bbox_inshop.txt"
PARTITION_HEADER = ("image_name", "item_id", "evaluation_status")
BBOX_HEADER = ("image_name", "clothes_type", "pose_type", "x_1", "y_1", "x_2", "y_2")
STATUS_TO_SPLIT = {"train": "train", "query": "test", "gallery": "test"}
IMAGE_NAME = re.compile(r"^(?P<variant>\d+)_(?P<shot>\d+)_(?P<view>[A-Za-z]+)\.(?:jpe?g|png)$", re.IGNORECASE)
"""``02_1_front.jpg``: variant 02, shot 1, view front."""


def _fail(path: Path, line: int | None, message: str, fix: str) -> ManifestError:
    where = f"line {line}: " if line is not None else ""
    return ManifestError(f"{where}{message}", file=path, fix=fix)


def _read_listing(path: Path, header: Sequence[str]) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line number, fields)`` of a DeepFashion list file after checking its count and header lines.

    Raises:
        ManifestError: naming the file and line: a missing or non-numeric count, another header, a row with the
            wrong number of fields, or a count that disagrees with the rows (a truncated file).
    """
    redownload = f"restore {path.name} from the official DeepFashion In-shop release."
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise _fail(path, None, f"not a text file ({exc}).", redownload) from exc
    if len(lines) < 2:
        raise _fail(path, None, "needs a count line and a header line.", redownload)
    try:
        expected = int(lines[0].strip())
    except ValueError:
        raise _fail(path, 1, f"expected the number of rows, found {lines[0].strip()!r}.", redownload) from None
    found_header = tuple(lines[1].split())
    if found_header != tuple(header):
        raise _fail(path, 2, f"expected the header {' '.join(header)!r}, found {lines[1].strip()!r}.", redownload)
    rows = 0
    for number, text in enumerate(lines[2:], start=3):
        fields = text.split()
        if not fields:
            continue
        if len(fields) != len(header):
            raise _fail(
                path, number,
                f"expected {len(header)} fields ({' '.join(header)}), found {len(fields)}: {text.strip()!r}.",
                "fields are separated by spaces; fix or delete the line.",
            )
        rows += 1
        yield number, fields
    if rows != expected:
        raise _fail(path, 1, f"the count line says {expected} rows but the file has {rows}.",
                    f"the file may be truncated: {redownload}")


def _read_partition(path: Path) -> pd.DataFrame:
    records: list[dict[str, object]] = []
    seen: dict[str, int] = {}
    for number, (name, item_id, status) in _read_listing(path, PARTITION_HEADER):
        if status not in STATUS_TO_SPLIT:
            raise _fail(path, number, f"evaluation_status {status!r} is not one of {sorted(STATUS_TO_SPLIT)}.",
                        "correct the status or delete the line.")
        match = IMAGE_NAME.match(Path(name).name)
        if match is None:
            raise _fail(path, number, f"image name {Path(name).name!r} does not look like 02_1_front.jpg "
                        "(variant_shot_view), so its colour variant is unknown.",
                        "correct the name or delete the line.")
        if name in seen:
            raise _fail(path, number, f"image {name!r} is listed twice (first on line {seen[name]}).",
                        "delete the repeated line.")
        seen[name] = number
        variant = match.group("variant")
        records.append({
            "image_path": name,
            "product_id": f"{item_id}_{variant}",
            "style_id": item_id,
            "color": variant,
            "split": STATUS_TO_SPLIT[status],
            "inshop_status": status,
        })
    return pd.DataFrame.from_records(
        records, columns=["image_path", "product_id", "style_id", "color", "split", "inshop_status"]
    )


def _read_bboxes(path: Path) -> pd.DataFrame:
    records: list[dict[str, object]] = []
    seen: dict[str, int] = {}
    for number, fields in _read_listing(path, BBOX_HEADER):
        name = fields[0]
        try:
            clothes, pose, x0, y0, x1, y1 = (int(v) for v in fields[1:])
        except ValueError:
            raise _fail(path, number, f"expected integers after the image name, found {' '.join(fields[1:])!r}.",
                        "correct the line or delete it.") from None
        if name in seen:
            raise _fail(path, number, f"image {name!r} has a second box (first on line {seen[name]}).",
                        "delete the repeated line.")
        seen[name] = number
        records.append({"image_path": name, "inshop_clothes_type": clothes, "inshop_pose_type": pose,
                        "bbox_x0": x0, "bbox_y0": y0, "bbox_x1": x1, "bbox_y1": y1})
    columns = ["image_path", "inshop_clothes_type", "inshop_pose_type", *BBOX_COLUMNS]
    return pd.DataFrame.from_records(records, columns=columns)


def inshop_image_root(root: str | Path) -> Path:
    """The folder the listed ``img/...`` paths are relative to: ``ROOT/Img`` (official) or ``ROOT``."""
    root = Path(root)
    for candidate in (root / "Img", root):
        if (candidate / "img").is_dir():
            return candidate
    return root / "Img" if (root / "Img").is_dir() else root


def read_deepfashion_inshop(root: str | Path) -> pd.DataFrame:
    """The manifest rows of a DeepFashion In-shop folder (partition file, plus boxes when the file is there).

    Columns: ``image_path`` (``img/...``, relative to ``inshop_image_root(root)``), ``product_id``,
    ``style_id``, ``color``, ``split``, ``inshop_status`` and, with ``Anno/list_bbox_inshop.txt``,
    ``inshop_clothes_type``, ``inshop_pose_type`` and ``bbox_x0..bbox_y1`` (empty for images without a box).

    Raises:
        ManifestError: the partition file is missing, or either file is malformed (the file and line named).
    """
    root = Path(root)
    partition = root / PARTITION_FILE
    if not partition.is_file():
        present = sorted(p.name for p in root.iterdir()) if root.is_dir() else []
        raise ManifestError(
            f"DeepFashion In-shop partition file not found (looked in {root}, which holds {present}).",
            file=partition,
            fix="pass --root the In-shop folder that contains Eval/list_eval_partition.txt (and Img/, Anno/).",
        )
    frame = _read_partition(partition)
    boxes_path = root / BBOX_FILE
    if boxes_path.is_file():
        boxes = _read_bboxes(boxes_path)
        frame = frame.merge(boxes, on="image_path", how="left", validate="one_to_one")
        for col in ("inshop_clothes_type", "inshop_pose_type", *BBOX_COLUMNS):
            frame[col] = frame[col].astype("Int64")
    return frame


@register_importer("deepfashion-inshop", "DeepFashion In-shop Clothes Retrieval (Eval/list_eval_partition.txt)")
def import_deepfashion_inshop(root: Path, out: Path) -> ImportResult:
    """Read DeepFashion In-shop under ``root`` and write the manifest ``out`` (CSV or Parquet) atomically.

    The manifest's ``image_path`` values are relative to ``ImportResult.image_root`` (``root/Img`` in the
    official layout): pass that as ``--root`` to later commands.

    Raises:
        ManifestError: as ``read_deepfashion_inshop``.
    """
    root, out = Path(root), Path(out)
    frame = read_deepfashion_inshop(root)
    image_root = inshop_image_root(root)
    notes: list[str] = []
    if not (root / BBOX_FILE).is_file():
        notes.append(f"{root / BBOX_FILE} not found: the manifest has no boxes, so --crop bbox is unavailable.")
    missing = int(np.sum([not (image_root / p).is_file() for p in frame["image_path"].tolist()]))
    if missing:
        notes.append(
            f"{missing} of {len(frame)} listed images are not under {image_root}: extract Img/img.zip there "
            "(the listed paths start with img/)."
        )
    Catalog.from_frame(frame, image_root, source=out).save(out)
    splits = {str(k): int(v) for k, v in frame["split"].value_counts().sort_index().items()}
    return ImportResult(out, image_root, len(frame), splits, missing, notes)
