"""YAML configs: defaults composition, overrides, strict keys, safe loading."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from colorvariants.config import ConfigError, apply_overrides, dump_yaml, from_dict, load_yaml, to_dict


@dataclass
class Inner:
    lr: float = 0.1
    sizes: tuple[int, ...] = (1, 2)


@dataclass
class Outer:
    name: str = "x"
    inner: Inner = field(default_factory=Inner)


def test_defaults_are_merged_and_file_keys_win(tmp_path: Path) -> None:
    (tmp_path / "shared.yaml").write_text("inner:\n  lr: 0.5\nname: shared\n")
    (tmp_path / "main.yaml").write_text("defaults: [shared.yaml]\nname: main\n")
    data = load_yaml(tmp_path / "main.yaml")
    assert data == {"inner": {"lr": 0.5}, "name": "main"}


def test_overrides_parse_yaml_scalars() -> None:
    data = apply_overrides({"inner": {"lr": 0.1}}, ["inner.lr=0.3", "inner.sizes=[4, 5]", "name=abc"])
    cfg = from_dict(Outer, data)
    assert cfg.inner.lr == 0.3 and cfg.inner.sizes == (4, 5) and cfg.name == "abc"


def test_unknown_key_names_the_key_and_allowed_ones() -> None:
    with pytest.raises(ConfigError, match=r"inner\.lrr.*allowed.*lr"):
        from_dict(Outer, {"inner": {"lrr": 1}})


def test_malformed_override_is_an_error() -> None:
    with pytest.raises(ConfigError, match="key.sub=value"):
        apply_overrides({}, ["no-equals-sign"])


def test_yaml_never_executes_code(tmp_path: Path) -> None:
    evil = tmp_path / "evil.yaml"
    evil.write_text("name: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_yaml(evil)


def test_round_trip_through_yaml(tmp_path: Path) -> None:
    cfg = Outer(name="n", inner=Inner(lr=0.25, sizes=(3,)))
    (tmp_path / "c.yaml").write_text(dump_yaml(cfg))
    assert from_dict(Outer, load_yaml(tmp_path / "c.yaml")) == cfg
    assert to_dict(cfg) == {"name": "n", "inner": {"lr": 0.25, "sizes": [3]}}


def test_every_shipped_method_config_loads() -> None:
    root = Path(__file__).resolve().parents[1] / "configs"
    for name in ("triplet", "simclr", "mocov2", "cvssl"):
        data = load_yaml(root / f"{name}.yaml")
        assert data["method"] == name
        assert {"data", "trainer", "model"} <= set(data)


@pytest.mark.parametrize("name", sorted(p.name for p in (Path(__file__).parent.parent / "configs").glob("*.yaml")))
def test_every_key_of_a_shipped_config_is_a_field_of_its_dataclass(name: str) -> None:
    """configs/*.yaml (with their shared defaults) build a FitConfig and the method's model config: a key that
    is not a field (a typo, or a field renamed without its YAML) fails here, not at a user's first run."""
    from colorvariants.models.resume import resolved_config
    from colorvariants.models.training import FitConfig

    data = load_yaml(Path(__file__).parent.parent / "configs" / name)
    resolved = resolved_config(from_dict(FitConfig, data))
    assert set(data["model"]) <= set(resolved["model"])
    assert resolved["method"] == name.removesuffix(".yaml")


@pytest.mark.parametrize("method", ["triplet", "simclr", "mocov2", "cvssl"])
def test_every_method_default_config_round_trips(method: str) -> None:
    """A run writes its config and later stages (embed, resume) read it back: every default must load."""
    from colorvariants.models.registry import get_method

    config_class = get_method(method).config_class
    written = yaml.safe_load(dump_yaml(config_class()))
    assert from_dict(config_class, written) == config_class()
