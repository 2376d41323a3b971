"""``colorvariants synth``: the flags reach the generator and the result is a loadable catalog."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

import colorvariants.cli.commands.synth as synth_command
from colorvariants.cli.registry import COMMANDS
from colorvariants.data.catalog import Catalog
from colorvariants.data.synth import SynthConfigError


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="colorvariants synth")
    COMMANDS["synth"].add_arguments(parser)
    return parser.parse_args(argv)


class TestSynthCommand:
    def test_registered(self) -> None:
        assert COMMANDS["synth"].run is synth_command.run

    @pytest.mark.parametrize("text, expected", [("2-5", (2, 5)), ("3", (3, 3)), (" 1 - 2 ", (1, 2))])
    def test_parse_range(self, text: str, expected: tuple[int, int]) -> None:
        assert synth_command.parse_range(text) == expected

    @pytest.mark.parametrize("text", ["5-2", "a-b", "-1", "2-"])
    def test_bad_range_is_a_usage_error(self, text: str) -> None:
        with pytest.raises(argparse.ArgumentTypeError):
            synth_command.parse_range(text)

    def test_writes_catalog_and_reports(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        args = _parse(["--out", str(tmp_path), "--styles", "4", "--seed", "3", "--size", "48", "--no-masks",
                       "--images-per-product", "2", "--variants", "2-3", "--workers", "1", "--quiet"])
        assert COMMANDS["synth"].run(args) == 0
        catalog = Catalog.load(tmp_path / "manifest.csv")
        assert catalog.frame["style_id"].nunique() == 4 and not catalog.has_masks()
        assert (catalog.frame.groupby("product_id").size() == 2).all()
        assert catalog.frame.groupby("style_id")["product_id"].nunique().between(2, 3).all()
        assert "4 styles" in capsys.readouterr().out

    def test_bad_setting_raises_the_tool_error(self, tmp_path: Path) -> None:
        with pytest.raises(SynthConfigError, match="styles"):
            COMMANDS["synth"].run(_parse(["--out", str(tmp_path), "--styles", "0", "--quiet"]))
