"""Flags that mirror config keys: the table's helper, and every command's table checked against its dataclass."""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import types
import typing
from pathlib import Path
from typing import Any

import pytest

from colorvariants.cli.commands.fit import FIT_FLAGS
from colorvariants.cli.config_flags import ConfigFlag, add_config_flags, flag_overrides
from colorvariants.config import from_dict

ROOT = Path(__file__).resolve().parents[2]

def _parser(*flags: ConfigFlag) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    add_config_flags(parser, flags)
    return parser


def test_a_flag_is_named_after_the_keys_field_and_defaults_to_the_config() -> None:
    flag = ConfigFlag("trainer.max_epochs", int, "epoch cap")
    assert (flag.dest, flag.option) == ("max_epochs", "--max-epochs")
    (action,) = [a for a in _parser(flag)._actions if a.dest == "max_epochs"]
    assert action.option_strings == ["--max-epochs"] and action.default is None and action.type is int
    assert action.help == "epoch cap (default: trainer.max_epochs of --config)"


def test_help_that_states_its_own_default_is_kept_and_a_flag_without_help_gets_one() -> None:
    own = ConfigFlag("trainer.precision", help="a | b (default: a on GPU)")
    bare = ConfigFlag("data.batch_size", int)
    helps = {a.dest: a.help for a in _parser(own, bare)._actions}
    assert helps["precision"] == "a | b (default: a on GPU)"
    assert helps["batch_size"] == "(default: data.batch_size of --config)"


def test_only_given_flags_become_overrides_in_table_order() -> None:
    flags = (ConfigFlag("data.batch_size", int), ConfigFlag("data.crop", choices=["none", "bbox"]),
             ConfigFlag("trainer.devices"))
    parser = _parser(*flags)
    assert flag_overrides(parser.parse_args([]), flags) == []
    args = parser.parse_args(["--devices", "2", "--batch-size", "8"])
    assert flag_overrides(args, flags) == ["data.batch_size=8", "trainer.devices=2"]
    with pytest.raises(SystemExit):
        parser.parse_args(["--crop", "mask"])


# -- every table against its dataclass ---------------------------------------------------------------------
def _section_classes() -> dict[str, list[type]]:
    """The dataclasses a ``section.`` key of ``fit`` lands in (``model``: every method's config)."""
    from colorvariants.data.datamodule import DataConfig
    from colorvariants.models.registry import METHODS, get_method
    from colorvariants.models.training import TrainerConfig

    get_method("cvssl")  # loads every method
    return {"trainer": [TrainerConfig], "data": [DataConfig], "model": [m.config_class for m in METHODS.values()]}


def _value_types(hint: Any) -> set[Any]:
    """The field's types a value may have, ``None`` left out (``int | None`` -> {int})."""
    args = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    return {a for a in args if a is not type(None)}


@pytest.mark.parametrize("flag", FIT_FLAGS, ids=lambda f: f.key)
def test_every_fit_flag_sets_a_real_config_field_of_its_type(flag: ConfigFlag) -> None:
    section, name = flag.key.split(".")
    for cls in _section_classes()[section]:
        fields = {f.name: f for f in dataclasses.fields(cls)}
        assert name in fields, f"{flag.key}: {cls.__name__} has no field {name!r}"
        kinds = _value_types(typing.get_type_hints(cls)[name])
        if flag.type is None:  # text: the field takes a string (or anything)
            assert kinds & {str, Any} or all(typing.get_origin(k) is typing.Literal for k in kinds), (flag.key, kinds)
        else:
            assert kinds == {flag.type}, (flag.key, kinds)
        for choice in flag.choices or ():
            from_dict(cls, {name: choice})  # every choice is a valid value of the field
        literal = [k for k in kinds if typing.get_origin(k) is typing.Literal]
        if flag.choices is not None and literal:
            assert sorted(flag.choices) == sorted(typing.get_args(literal[0])), flag.key


def test_fit_flags_are_unique_and_leave_the_config_alone_when_not_given() -> None:
    from colorvariants.cli.main import build_parser

    assert len({f.dest for f in FIT_FLAGS}) == len(FIT_FLAGS)
    parser = build_parser()
    args = parser.parse_args(["fit", "--config", "c.yaml", "--manifest", "m", "--out", "o"])
    assert flag_overrides(args, FIT_FLAGS) == []  # nothing given: the config's own values hold


def test_the_epoch_cap_that_fit_help_quotes_is_the_configs() -> None:
    from colorvariants.config import load_yaml
    from colorvariants.models.training import TrainerConfig

    (flag,) = [f for f in FIT_FLAGS if f.key == "trainer.max_epochs"]
    quoted = f"trainer.max_epochs, {TrainerConfig().max_epochs};"
    assert quoted in (flag.help or "")
    assert load_yaml(ROOT / "configs" / "shared" / "trainer.yaml")["trainer"]["max_epochs"] == TrainerConfig().max_epochs


def test_benchmark_flags_default_to_the_benchmark_configs_values() -> None:
    """``benchmark``/``demo`` flags that mirror a ``BenchmarkConfig`` field start from its default."""
    from colorvariants.cli.main import build_parser
    from colorvariants.report.benchmark_config import BenchmarkConfig

    args = build_parser().parse_args(["benchmark", "--manifest", "m", "--out", "o"])
    defaults = {f.name: f.default for f in dataclasses.fields(BenchmarkConfig)}
    mirrored = [name for name in vars(args) if name in defaults]
    assert {"image_size", "max_epochs", "max_minutes", "backbone", "batch_size", "seed", "threads",
            "preprocess_workers"} <= set(mirrored)
    for name in mirrored:
        value = getattr(args, name)
        if name != "methods":  # a comma list on the command line
            assert (tuple(value) if isinstance(value, list) else value) == defaults[name], name
    assert tuple(args.methods.split(",")) == defaults["methods"]


def test_the_method_names_fit_help_quotes_are_the_registered_ones() -> None:
    from colorvariants.cli.registry import COMMANDS
    from colorvariants.models.choices import METHOD_NAMES
    from colorvariants.models.registry import METHODS

    _section_classes()  # every method registered
    assert sorted(METHODS) == sorted(METHOD_NAMES)
    assert COMMANDS["fit"].help == "train a method (triplet, simclr, mocov2, cvssl) on a catalog"


def test_building_the_parser_imports_no_torch() -> None:
    """``--help`` stays instant: the lists it quotes come from light ``choices`` modules."""
    code = ("import sys; from colorvariants.cli.main import build_parser; build_parser(); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout.strip() == "False"
