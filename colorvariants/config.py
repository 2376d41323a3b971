"""Typed configs from YAML: safe loading, ``defaults:`` composition, ``a.b=value`` overrides, strict dataclasses.

A method's YAML may list shared pieces under ``defaults`` (paths relative to the file); later keys win.
Unknown keys are errors that name the key and the allowed ones, so a typo never silently trains the wrong model.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from colorvariants.errors import ColorVariantsError

T = TypeVar("T")


class ConfigError(ColorVariantsError):
    """A config file or override is malformed or names an unknown key."""


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Load a YAML config with ``yaml.safe_load`` (no code runs) and merge its ``defaults`` files first."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found. Fix: pass an existing YAML, e.g. configs/cvssl.yaml.")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc}).") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config must be a mapping of keys to values.")
    merged: dict[str, Any] = {}
    for piece in data.pop("defaults", []) or []:
        merged = deep_merge(merged, load_yaml(path.parent / piece))
    return deep_merge(merged, data)


def deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Recursive dict merge; values of ``update`` win, nested mappings merge."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def apply_overrides(data: Mapping[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` strings (values parsed as YAML scalars: ``0.1``, ``true``, ``[1,2]``)."""
    out = deep_merge({}, data)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like key.sub=value (e.g. model.temperature=0.2).")
        key, raw = item.split("=", 1)
        value = yaml.safe_load(raw) if raw != "" else None
        node = out
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {part!r} is not a section.")
        node[parts[-1]] = value
    return out


def from_dict(cls: type[T], data: Mapping[str, Any] | None, *, where: str = "") -> T:
    """Build dataclass ``cls`` from a mapping, recursing into nested dataclasses; unknown keys raise."""
    data = dict(data or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"unknown config key(s) {[f'{where}{k}' for k in unknown]}; allowed under "
            f"{where.rstrip('.') or 'top level'}: {sorted(fields)}."
        )
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        sub = _dataclass_in(hints.get(name))
        if sub is not None and isinstance(value, Mapping):
            kwargs[name] = from_dict(sub, value, where=f"{where}{name}.")
        elif isinstance(value, list) and _is_tuple(hints.get(name)):
            kwargs[name] = tuple(value)
        else:
            kwargs[name] = _checked_scalar(value, hints.get(name), f"{where}{name}")
    return cls(**kwargs)


# Scalar field types whose values are checked (and numbers written as text, YAML's "1e-3", converted).
_SCALARS: dict[type, str] = {float: "a number", int: "an integer", bool: "true or false"}


def _checked_scalar(value: Any, tp: Any, key: str) -> Any:
    """``value`` as the field's scalar type (float, int, bool, or Optional of one); other types pass through."""
    args = typing.get_args(tp) if typing.get_origin(tp) in (typing.Union, types.UnionType) else (tp,)
    scalar = [a for a in args if a in _SCALARS]
    if len(scalar) != 1 or value is None and type(None) in args or isinstance(value, str) and str in args:
        return value
    want = scalar[0]
    if want is bool:
        ok = isinstance(value, bool)
    elif want is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not ok and isinstance(value, str):
            try:
                value, ok = float(value), True
            except ValueError:
                pass
    if not ok:
        raise ConfigError(f"{key}={value!r} must be {_SCALARS[want]}. Fix: e.g. {key}={_EXAMPLES[want]}.")
    return value


_EXAMPLES = {float: "0.1", int: "4", bool: "true"}


def to_dict(obj: Any) -> Any:
    """A dataclass (recursively) as plain dicts/lists/scalars: safe for YAML and ``weights_only`` checkpoints."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, Mapping):
        return {str(k): to_dict(v) for k, v in obj.items()}
    if isinstance(obj, Path):
        return str(obj)
    return obj


def dump_yaml(data: Any) -> str:
    """YAML text of a config (dataclass or mapping), keys in declaration order."""
    return yaml.safe_dump(to_dict(data), sort_keys=False)


def _dataclass_in(tp: Any) -> type | None:
    if tp is None:
        return None
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return tp
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            if dataclasses.is_dataclass(arg) and isinstance(arg, type):
                return arg
    return None


def _is_tuple(tp: Any) -> bool:
    if tp is None:
        return False
    if typing.get_origin(tp) is tuple:
        return True
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return any(typing.get_origin(a) is tuple for a in typing.get_args(tp))
    return False
