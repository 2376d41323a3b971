"""The quickstart notebook runs on a fresh kernel: the Python API it shows is the current one."""

from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "quickstart.ipynb"
PRODUCED = ("catalog/manifest.csv", "run/model.pt", "embeddings/meta.json", "index/meta.json", "groups.csv")


@pytest.mark.slow
def test_quickstart_notebook_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nbclient import NotebookClient

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("COLORVARIANTS_CACHE", str(tmp_path / "cache"))  # never ~/.cache, even by mistake
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}, env=dict(os.environ))
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    for produced in PRODUCED:
        assert (tmp_path / "quickstart-work" / produced).is_file(), produced
    text = "\n".join(o.get("text", "") for o in outputs)
    assert "queries over" in text and "groups from" in text
    pictures = [o for o in outputs if "data:image/jpeg;base64," in o.get("data", {}).get("text/html", "")]
    assert pictures, "the last cell shows the largest group as embedded pictures"
    assert seconds < 300, f"the quickstart took {seconds:.0f} s; it should stay about a minute on 2 cores"
