"""Tests for colorvariants.data.choices: each list of allowed values is defined once and offered by the CLI."""

from __future__ import annotations

import argparse

import pytest

from colorvariants.cli.main import build_parser
from colorvariants.data.choices import (
    CROP_MODES,
    IMAGE_FORMAT_NAMES,
    ON_ERROR_POLICIES,
    PK_LABELS,
    SAMPLER_NAMES,
    check_choice,
)
from colorvariants.data.preprocess import CROP_BOXES, IMAGE_FORMATS


def test_values() -> None:
    assert CROP_MODES == ("none", "bbox", "mask") and ON_ERROR_POLICIES == ("raise", "skip")
    assert SAMPLER_NAMES == ("random", "pk") and PK_LABELS == ("style", "product")
    assert set(CROP_BOXES) == set(CROP_MODES)  # one crop function per mode
    assert set(IMAGE_FORMAT_NAMES) == {"auto", *IMAGE_FORMATS}


def test_check_choice() -> None:
    check_choice("crop", "bbox", CROP_MODES)
    with pytest.raises(ValueError, match=r"crop must be one of \('none', 'bbox', 'mask'\), got 'box'"):
        check_choice("crop", "box", CROP_MODES)


def _choices(command: str, dest: str) -> tuple[str, ...] | None:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    action = next(a for a in sub.choices[command]._actions if a.dest == dest)
    return tuple(action.choices) if action.choices is not None else None


@pytest.mark.parametrize(("command", "dest", "allowed"), [
    ("fit", "crop", CROP_MODES),
    ("embed", "crop", CROP_MODES),
    ("embed", "on_error", ON_ERROR_POLICIES),
    ("preprocess", "crop", CROP_MODES),
    ("preprocess", "on_error", ON_ERROR_POLICIES),
    ("preprocess", "image_format", IMAGE_FORMAT_NAMES),
])
def test_cli_offers_the_one_list(command: str, dest: str, allowed: tuple[str, ...]) -> None:
    assert _choices(command, dest) == allowed
