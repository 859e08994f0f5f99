"""One strict path from a job to its configuration.

Every system declares **named configs** (functions returning a typed dataclass, one docstring per
field) in ``SystemSpec.configs``. A job's configuration is resolved in one place,
:func:`resolve_config`, in four layers, each applied by the same strict setter
(:func:`apply_overrides`):

1. the named config ``job.config`` (``"default"`` unless a suite entry names another);
2. the overrides the **workload** implies (``SystemSpec.workload_overrides(name)``: e.g. a network and a
   device count, a layer shape);
3. the overrides the **method** stands for (``Method.overrides``: e.g. ``capacity_frac=1.0``);
4. the **job's own params** (``Job.params``: suite overrides and what a user passed).

A key is either a field name that is unique in the config tree (``capacity_frac``) or a dotted path
(``search.capacity_frac``). An unknown key is an error naming the valid keys; a value of the wrong type
is an error naming the expected type. Nothing is coerced silently except an ``int`` where a ``float``
is declared. A top-level ``seed`` field, when the config has one, is set to ``job.seed``.

The resolved config is plain data (:func:`to_dict`); :func:`systems.core.execute.execute` attaches it to
every JobResult and the flow records it (MLflow params ``config.<key>`` and ``config.json``).
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import functools
import inspect
import textwrap
import types
import typing
from typing import Any, Mapping

__all__ = ["ConfigError", "apply_overrides", "field_docs", "flatten", "keys", "resolve_config", "to_dict"]


class ConfigError(ValueError):
    """A bad override: unknown key, wrong type, or a value a config's own validation rejects."""


# --- introspection ---------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _is_config(obj: Any) -> bool:
    return dataclasses.is_dataclass(obj) and not isinstance(obj, type)


def _paths(cfg: Any, prefix: str = "") -> dict[str, tuple[Any, ...]]:
    """Dotted path -> field type, for every leaf (non-dataclass) field of ``cfg``."""
    out: dict[str, Any] = {}
    hints = _hints(type(cfg))
    for f in dataclasses.fields(cfg):
        path = prefix + f.name
        val = getattr(cfg, f.name)
        if _is_config(val):
            out.update(_paths(val, path + "."))
        else:
            out[path] = hints.get(f.name, Any)
    return out


def keys(cfg: Any) -> list[str]:
    """Every key an override may use for ``cfg``: dotted paths, plus leaf names that are unique."""
    paths = list(_paths(cfg))
    leaves: dict[str, int] = {}
    for p in paths:
        leaf = p.rsplit(".", 1)[-1]
        leaves[leaf] = leaves.get(leaf, 0) + 1
    short = [leaf for leaf, n in leaves.items() if n == 1 and leaf not in paths]
    return sorted(set(paths) | set(short))


def _resolve_key(cfg: Any, key: str, where: str) -> str:
    paths = _paths(cfg)
    if key in paths:
        return key
    matches = [p for p in paths if p.rsplit(".", 1)[-1] == key]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise ConfigError(f"{where}: key {key!r} is ambiguous; use one of {', '.join(sorted(matches))}")
    # a whole nested section given as a dict: {"search": {...}}
    sections = {p.split(".")[0] for p in paths if "." in p}
    if key in sections:
        return key
    valid = keys(cfg)
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ConfigError(f"{where}: unknown key {key!r}{hint}; valid keys: {', '.join(valid)}")


# --- type checking -------------------------------------------------------------------------------
def _type_name(tp: Any) -> str:
    if tp is type(None):
        return "None"
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is not None:
        args = ", ".join(_type_name(a) if a is not Ellipsis else "..." for a in typing.get_args(tp))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    return getattr(tp, "__name__", str(tp))


class _Mismatch(Exception):
    pass


def _check(value: Any, tp: Any) -> Any:
    """``value`` converted to ``tp`` where that is lossless (int->float, list->tuple), else raise."""
    if tp is Any or tp is object:
        return value
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Literal:
        if value in args and not (isinstance(value, bool) and not any(isinstance(a, bool) for a in args)):
            return value
        raise _Mismatch
    if origin in (typing.Union, types.UnionType):
        for a in args:
            try:
                return _check(value, a)
            except _Mismatch:
                continue
        raise _Mismatch
    if tp is type(None):
        if value is None:
            return None
        raise _Mismatch
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise _Mismatch
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _Mismatch
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise _Mismatch
    if tp is str:
        if isinstance(value, str):
            return value
        raise _Mismatch
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise _Mismatch
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                raise _Mismatch
            items = [_check(v, a) for v, a in zip(value, args)]
        else:
            items = [_check(v, args[0]) for v in value] if args else list(value)
        return tuple(items) if origin is tuple else items
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            raise _Mismatch
        return dict(value)
    if isinstance(tp, type):
        if isinstance(value, tp):
            return value
        raise _Mismatch
    return value


# --- applying overrides ----------------------------------------------------------------------------
def _set_path(cfg: Any, path: list[str], value: Any, where: str, full: str) -> Any:
    """A copy of ``cfg`` with ``path`` set (``dataclasses.replace`` so each level's checks run)."""
    name = path[0]
    current = getattr(cfg, name)
    if len(path) > 1:
        new = _set_path(current, path[1:], value, where, full)
    elif _is_config(current):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: {full!r} is a section ({type(current).__name__}); give a dict of its "
                              f"keys, got {value!r}")
        new = apply_overrides(current, value, where=f"{where}: {full}")
    else:
        tp = _hints(type(cfg)).get(name, Any)
        try:
            new = _check(value, tp)
        except _Mismatch:
            raise ConfigError(f"{where}: {full!r} must be {_type_name(tp)}, got {value!r} "
                              f"({type(value).__name__})") from None
    try:
        return dataclasses.replace(cfg, **{name: new})
    except ConfigError:
        raise
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{where}: {full}={value!r} rejected: {exc}") from None


def apply_overrides(cfg: Any, overrides: Mapping[str, Any] | None, *, where: str = "config") -> Any:
    """A copy of ``cfg`` with ``overrides`` applied strictly (see the module docstring)."""
    if not _is_config(cfg):
        raise TypeError(f"{where}: configs are dataclass instances, got {type(cfg).__name__}")
    for key, value in (overrides or {}).items():
        if not isinstance(key, str):
            raise ConfigError(f"{where}: keys are strings, got {key!r}")
        path = _resolve_key(cfg, key, where)
        cfg = _set_path(cfg, path.split("."), value, where, path)
    return cfg


def to_dict(cfg: Any) -> dict[str, Any]:
    """The config as nested plain data (tuples become lists), JSON-serialisable."""
    def plain(v: Any) -> Any:
        if _is_config(v):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, Mapping):
            return {str(k): plain(x) for k, x in v.items()}
        return v
    return plain(cfg)


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"search": {"capacity_frac": 0.25}}`` -> ``{"search.capacity_frac": 0.25}`` (leaves only)."""
    out: dict[str, Any] = {}
    for k, v in data.items():
        if isinstance(v, Mapping) and v:
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


@functools.lru_cache(maxsize=None)
def field_docs(cls: type) -> dict[str, str]:
    """The attribute docstrings of a dataclass (the string literal under each field)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError, SyntaxError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for a, b in zip(body, body[1:]):
            if isinstance(a, ast.AnnAssign) and isinstance(a.target, ast.Name) and isinstance(b, ast.Expr) \
                    and isinstance(b.value, ast.Constant) and isinstance(b.value.value, str):
                docs[a.target.id] = " ".join(b.value.value.split())
    return docs


def describe(cfg: Any, prefix: str = "") -> list[tuple[str, Any, str, str]]:
    """``(key, value, type, doc)`` for every leaf of ``cfg`` (for ``syslab <system> config``)."""
    rows = []
    docs = field_docs(type(cfg))
    hints = _hints(type(cfg))
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        if _is_config(v):
            rows += describe(v, f"{prefix}{f.name}.")
        else:
            rows.append((prefix + f.name, v, _type_name(hints.get(f.name, Any)), docs.get(f.name, "")))
    return rows


# --- the job -> config path ------------------------------------------------------------------------
def resolve_config(job) -> Any:
    """The configuration ``job`` runs with: named config + workload + method + job params, strictly.

    Raises :class:`ConfigError` (a ``ValueError``) naming what was wrong and the valid choices.
    """
    from systems.core.registry import get_system

    spec = get_system(job.system)
    return spec.resolve(job)
