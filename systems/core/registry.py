"""The system registry: ``SYSTEMS: dict[str, SystemSpec]`` and one lookup function.

Systems are discovered, not listed by hand: every subpackage of ``systems`` (except ``core``)
that defines ``SPEC`` is registered. ``SYSLAB_EXTRA_SYSTEMS`` (comma-separated module paths)
adds systems that live elsewhere, which tests use for fault-injection systems.
"""

from __future__ import annotations

import difflib
import importlib
import os
import pkgutil

from systems.core.types import SystemSpec

_BUILTIN_ORDER = ("mapper", "precision", "hag", "layerwise", "moe")


BROKEN: dict[str, str] = {}
"""Systems whose package failed to import: name -> error text (shown by lookups and listings)."""


def _discover() -> dict[str, SystemSpec]:
    import systems

    found: dict[str, SystemSpec] = {}
    BROKEN.clear()
    names = [m.name for m in pkgutil.iter_modules(systems.__path__) if m.ispkg and m.name != "core"]
    names.sort(key=lambda n: (_BUILTIN_ORDER.index(n) if n in _BUILTIN_ORDER else 99, n))
    modules = [f"systems.{n}" for n in names]
    modules += [m.strip() for m in os.environ.get("SYSLAB_EXTRA_SYSTEMS", "").split(",") if m.strip()]
    for mod_name in modules:
        try:
            mod = importlib.import_module(mod_name)
        except Exception as exc:  # one broken system must not hide the others
            BROKEN[mod_name.rsplit(".", 1)[-1]] = f"{type(exc).__name__}: {exc}"
            continue
        spec = getattr(mod, "SPEC", None)
        if isinstance(spec, SystemSpec):
            found[spec.name] = spec
    return found


class _Registry(dict):
    """A dict that fills itself on first use (so importing core stays cheap)."""

    _loaded = False

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            self.update(_discover())

    def __getitem__(self, key):  # noqa: D105
        self._load()
        return super().__getitem__(key)

    def __contains__(self, key):  # noqa: D105
        self._load()
        return super().__contains__(key)

    def __iter__(self):  # noqa: D105
        self._load()
        return super().__iter__()

    def __len__(self):  # noqa: D105
        self._load()
        return super().__len__()

    def keys(self):  # noqa: D102
        self._load()
        return super().keys()

    def values(self):  # noqa: D102
        self._load()
        return super().values()

    def items(self):  # noqa: D102
        self._load()
        return super().items()

    def reload(self) -> None:
        """Forget and re-discover (tests that change ``SYSLAB_EXTRA_SYSTEMS``)."""
        self.clear()
        self._loaded = False
        self._load()


SYSTEMS: dict[str, SystemSpec] = _Registry()


class UnknownSystemError(KeyError):
    """Raised by :func:`get_system` for a name that is not registered."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


def get_system(name: str) -> SystemSpec:
    """Return the spec for ``name``; a typo fails naming the known systems."""
    if name in SYSTEMS:
        return SYSTEMS[name]
    if name in BROKEN:
        raise UnknownSystemError(f"system {name!r} failed to import: {BROKEN[name]}")
    known = sorted(SYSTEMS)
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise UnknownSystemError(f"unknown system {name!r}; known systems: {', '.join(known)}.{hint}")
