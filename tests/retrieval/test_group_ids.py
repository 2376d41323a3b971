"""Stable group ids: dedup a catalog, add products, re-run with --previous."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from colorvariants.cli.main import main
from colorvariants.errors import EmbeddingError
from colorvariants.retrieval.group_ids import carry_group_ids, read_previous
from colorvariants.retrieval.store import EmbeddingSet

Factory = Callable[..., EmbeddingSet]


def members(frame: pd.DataFrame) -> dict[int, frozenset[str]]:
    return {int(g): frozenset(rows["image_path"]) for g, rows in frame.groupby("group_id")}


def test_hand_example_merge_split_new() -> None:
    prev = pd.DataFrame({"image_path": list("abcdefg"), "group_id": [0, 0, 1, 1, 2, 2, 5]})
    # a,b unchanged; c,d merge with e,f (group 2 bigger share: ties -> smaller id 1); g split from nothing;
    # h is new and joins a,b; i is new alone.
    cur = pd.DataFrame({"image_path": list("abhcdefgi"), "group_id": [7, 7, 7, 8, 8, 8, 8, 9, 10]})
    out, ch = carry_group_ids(cur, prev)
    got = members(out)
    assert got[0] == frozenset("abh")            # grew by a new product, kept its id
    assert got[1] == frozenset("cdef")           # merge of 1 and 2 keeps the smaller id on a tie
    assert got[5] == frozenset("g")              # unchanged
    assert got[6] == frozenset("i")              # fresh id above every previous one
    assert ch["merges"] == [{"group_id": 1, "from": [1, 2]}] and ch["retired"] == [2]
    assert ch["unchanged"] == 1 and ch["kept_id"] == 3 and ch["new_ids"] == 1 and ch["images_new"] == 2


def test_split_reported() -> None:
    prev = pd.DataFrame({"image_path": list("abcd"), "group_id": [3, 3, 3, 3]})
    cur = pd.DataFrame({"image_path": list("abcd"), "group_id": [0, 0, 0, 1]})
    out, ch = carry_group_ids(cur, prev)
    assert members(out) == {3: frozenset("abc"), 4: frozenset("d")}
    assert ch["splits"] == [{"from": 3, "into": [3, 4]}]


def test_catalog_update_keeps_ids(clustered_set: Factory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                  ) -> None:
    # Week 1: 30 styles. Week 2: the same images plus a new colour of 5 old styles and 5 new styles.
    full = clustered_set(n_styles=35, products_per_style=3, images_per_product=1, style_noise=0.3,
                         image_noise=0.2, seed=4)
    style_num = full.ids["style_id"].astype(int)
    product_num = full.ids["product_id"].str.extract(r"(\d+)$")[0].astype(int) % 3
    week1 = ((style_num < 30) & ~((style_num < 5) & (product_num == 2))).to_numpy()
    first = EmbeddingSet(full.vectors[week1], full.ids[week1].reset_index(drop=True))
    first.save(tmp_path / "e1")
    full.save(tmp_path / "e2")
    common = ["--threshold", "0.8", "--rerank", "none"]
    assert main(["dedup", "--embeddings", str(tmp_path / "e1"), "--out", str(tmp_path / "g1.csv"), *common]) == 0
    assert main(["dedup", "--embeddings", str(tmp_path / "e2"), "--out", str(tmp_path / "g2.csv"),
                 "--previous", str(tmp_path / "g1.csv"), "--summary", str(tmp_path / "s2.json"), *common]) == 0
    assert "groups unchanged" in capsys.readouterr().out
    g1, g2 = pd.read_csv(tmp_path / "g1.csv"), pd.read_csv(tmp_path / "g2.csv")
    old, new = members(g1), members(g2)
    for gid, imgs in old.items():  # every old group keeps its id; old groups only gain images
        assert gid in new and imgs <= new[gid]
    added = set(full.ids["image_path"][~week1])
    new_colours = set(full.ids["image_path"][(~week1) & (style_num < 30).to_numpy()])
    joined = {img for gid, imgs in new.items() if gid in old for img in imgs} & added
    assert joined == new_colours  # each new colour of an old style joined that style's existing group
    assert min(g for g in new if g not in old) > max(old)


def test_previous_file_errors(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingError, match="no previous groups file"):
        read_previous(tmp_path / "missing.csv")
    pd.DataFrame({"image_path": ["a"], "group": [1]}).to_csv(tmp_path / "x.csv", index=False)
    with pytest.raises(EmbeddingError, match=r"\['group_id'\] missing"):
        read_previous(tmp_path / "x.csv")
    pd.DataFrame({"image_path": ["a", "b"], "group_id": [1, "g"]}).to_csv(tmp_path / "y.csv", index=False)
    with pytest.raises(EmbeddingError, match="row 3: group_id 'g' is not an integer"):
        read_previous(tmp_path / "y.csv")
