"""Write a synthetic catalog: images, foreground masks, ``manifest.csv``, ``styles.csv`` and ``synth.json``.

The manifest is written last and atomically, so a folder holds a catalog only once every image it lists is
there. Images go to ``images/<style_id>/<product_id>_<n>.jpg`` and masks to
``masks/<style_id>/<product_id>_<n>.png``, each via a temporary file and a rename. ``styles.csv`` records
each style's design and, for a sibling, the one detail (``changed_axis``) that sets it apart from
``sibling_of``: ground truth for error analysis.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from colorvariants.data.catalog import BBOX_COLUMNS, Catalog, read_manifest_frame
from colorvariants.data.synth.config import SynthConfig
from colorvariants.data.synth.plan import STREAM_IMAGE, StylePlan, plan_catalog, rng_for
from colorvariants.data.synth.render import colourize, render_design
from colorvariants.data.synth.scene import photograph
from colorvariants.errors import ColorVariantsError
from colorvariants.io import atomic_path, write_json

MANIFEST_NAME = "manifest.csv"
INFO_NAME = "synth.json"
STYLES_NAME = "styles.csv"
# ``family`` and ``cluster_id`` are extras: sibling styles share a cluster (hard negatives for evaluation).
COLUMNS = [
    "image_path",
    "product_id",
    "style_id",
    "color",
    "family",
    "split",
    "mask_path",
    *BBOX_COLUMNS,
    "cluster_id",
]
CHUNK_STYLES = 12  # styles per worker task: enough to amortise the hand-off, few enough to balance the load


def write_synthetic_catalog(
    out_dir: str | Path, config: SynthConfig | None = None, *, workers: int = 1, progress: bool = True
) -> Path:
    """Draw the catalog described by ``config`` into ``out_dir`` and return the manifest's path.

    The files are a pure function of ``config``: the same config writes byte-identical files whatever
    ``workers`` is. Rerunning into the same folder overwrites the files and deletes images and masks that an
    earlier synthetic run listed but this one does not.

    Args:
        out_dir: the catalog root (created if needed).
        config: what to draw; ``SynthConfig()`` (300 styles at 128 px) when None.
        workers: processes drawing in parallel (1 draws in this process). Workers start by forkserver, so
            a script that asks for more than one must call this under ``if __name__ == "__main__":``.
        progress: show a tqdm progress bar on stderr.

    Raises:
        ColorVariantsError: ``out_dir`` holds a manifest that this generator did not write.

    >>> manifest = write_synthetic_catalog("runs/synth", SynthConfig(styles=30))  # doctest: +SKIP
    >>> Catalog.load(manifest).split("train")                                      # doctest: +SKIP
    """
    config = config or SynthConfig()
    out = Path(out_dir)
    manifest = out / MANIFEST_NAME
    if manifest.exists() and not (out / INFO_NAME).exists():
        raise ColorVariantsError(
            f"{manifest} exists and was not written by `colorvariants synth`; refusing to overwrite it. "
            "Fix: choose an empty --out folder."
        )
    previous = _listed_files(out) if manifest.exists() else set()
    out.mkdir(parents=True, exist_ok=True)
    styles = [s for cluster in plan_catalog(config) for s in cluster]
    rows = list(_render(out, config, styles, workers, progress))
    frame = pd.DataFrame(rows)
    catalog = Catalog.from_frame(frame, out, source=manifest)
    catalog = catalog.assign_splits(config.fractions, seed=config.seed)
    columns = [c for c in COLUMNS if c in catalog.frame.columns]
    catalog = Catalog(catalog.frame[[*columns, "row"]], out, manifest)
    n_images = len(catalog)
    _write_styles(out / STYLES_NAME, styles)
    info = {
        "format": "colorvariants.synth",
        "version": 1,
        "config": config.to_dict(),
        "styles": len(styles),
        "products": int(frame["product_id"].nunique()),
        "images": n_images,
    }
    write_json(out / INFO_NAME, info)
    catalog.save(manifest)
    _remove_stale(out, previous - _listed_files(out))
    return manifest


def _render(
    out: Path, config: SynthConfig, styles: list[StylePlan], workers: int, progress: bool
) -> Iterator[dict[str, Any]]:
    chunks = [styles[i : i + CHUNK_STYLES] for i in range(0, len(styles), CHUNK_STYLES)]
    bar = tqdm(total=len(styles), unit="style", desc="synth", disable=not progress, leave=False)
    try:
        if workers <= 1 or len(chunks) == 1:
            for chunk in chunks:
                yield from render_styles(out, config, chunk)
                bar.update(len(chunk))
            return
        results: dict[int, list[dict[str, Any]]] = {}
        # forkserver: workers start from a clean process, safe even when the caller runs threads (torch).
        method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method)) as pool:
            futures = {pool.submit(render_styles, out, config, chunk): i for i, chunk in enumerate(chunks)}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                bar.update(len(chunks[futures[future]]))
        for i in range(len(chunks)):  # chunk order, not completion order: the manifest is deterministic
            yield from results[i]
    finally:
        bar.close()


def render_styles(out: Path, config: SynthConfig, styles: Sequence[StylePlan]) -> list[dict[str, Any]]:
    """Draw and write every image of ``styles``; return their manifest rows (``split`` is assigned later)."""
    rows: list[dict[str, Any]] = []
    for style in styles:
        drawn = render_design(style.design, config.size, config.supersample)
        for k, colourway in enumerate(style.colourways):
            rgb, alpha = colourize(drawn, colourway)
            product = style.product_id(k)
            for n in range(style.images_per_product[k]):
                photo = photograph(rgb, alpha, rng_for(config, STREAM_IMAGE, style.index, k, n), config)
                image_path = f"images/{style.style_id}/{product}_{n}.jpg"
                _write_bytes(out / image_path, photo.jpeg())
                row: dict[str, Any] = {
                    "image_path": image_path,
                    "product_id": product,
                    "style_id": style.style_id,
                    "color": colourway.label(style.design.printed),
                    "family": style.design.family,
                }
                if config.masks:
                    row["mask_path"] = f"masks/{style.style_id}/{product}_{n}.png"
                    _write_bytes(out / row["mask_path"], photo.mask_png())
                row.update(zip(BBOX_COLUMNS, photo.bbox(), strict=True))
                row["cluster_id"] = style.cluster_id
                rows.append(row)
    return rows


def _write_styles(dest: Path, styles: Sequence[StylePlan]) -> None:
    """One row per style: cluster, family, the design's visible details, and what a sibling changed."""
    table = pd.DataFrame(
        [
            {
                "style_id": s.style_id,
                "cluster_id": s.cluster_id,
                "family": s.design.family,
                "sibling_of": s.sibling_of or "",
                "changed_axis": s.changed_axis or "",
                "products": len(s.colourways),
                "design": s.design.describe(),
            }
            for s in styles
        ]
    )
    with atomic_path(dest, suffix=".csv") as tmp:
        table.to_csv(tmp, index=False)


def _write_bytes(dest: Path, data: bytes) -> None:
    """Write a file whole or not at all (temporary name, then rename; no fsync: the manifest comes last)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _listed_files(out: Path) -> set[str]:
    """Image and mask paths listed by the synthetic manifest in ``out`` (empty if unreadable)."""
    try:
        frame = read_manifest_frame(out / MANIFEST_NAME)
    except ColorVariantsError:
        return set()
    listed = set(frame.get("image_path", pd.Series(dtype=str)).tolist())
    listed |= set(frame.get("mask_path", pd.Series(dtype=str)).tolist())
    return {p for p in listed if p.startswith(("images/", "masks/"))}


def _remove_stale(out: Path, stale: set[str]) -> None:
    """Delete files an earlier synthetic run wrote that the new manifest no longer lists."""
    for rel in sorted(stale):
        (out / rel).unlink(missing_ok=True)
        for parent in (out / rel).parents:
            if parent == out or not parent.is_relative_to(out):
                break
            try:
                parent.rmdir()  # only succeeds once empty
            except OSError:
                break
