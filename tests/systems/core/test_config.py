"""The one strict setter: every system's overrides go through it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from systems.core.config import ConfigError, apply_overrides, describe, field_docs, flatten, keys, to_dict


@dataclass
class Inner:
    """Nested section."""

    rate: float = 0.1
    """A rate."""
    mode: Literal["a", "b"] = "a"
    """A mode."""
    levels: tuple[float, ...] = (1.0, 2.0)
    """Levels."""
    size: int = 3
    """Shared leaf name (ambiguous)."""


@dataclass
class Other:
    """Second section."""

    size: int = 4
    """Shared leaf name (ambiguous)."""


@dataclass
class Outer:
    """Top."""

    name: str = "x"
    """A name."""
    limit: int | None = None
    """Optional limit."""
    flag: bool = False
    """A flag."""
    sizes: dict = field(default_factory=dict)
    """A free dict."""
    inner: Inner = field(default_factory=Inner)
    """Inner section."""
    other: Other = field(default_factory=Other)
    """Other section."""

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 0:
            raise ValueError(f"limit must be >= 0, got {self.limit}")


def test_unique_leaf_names_and_dotted_paths():
    c = apply_overrides(Outer(), {"rate": 2, "inner.mode": "b", "other.size": 9, "limit": 5})
    assert c.inner.rate == 2.0 and isinstance(c.inner.rate, float) and c.inner.mode == "b"
    assert c.other.size == 9 and c.inner.size == 3 and c.limit == 5
    assert Outer() == Outer()  # the input is not mutated
    assert "rate" in keys(Outer()) and "inner.rate" in keys(Outer()) and "size" not in keys(Outer())


def test_unknown_and_ambiguous_keys_name_the_valid_ones():
    with pytest.raises(ConfigError, match=r"unknown key 'rat' \(did you mean 'rate'\?\); valid keys: .*inner.rate"):
        apply_overrides(Outer(), {"rat": 1.0}, where="job j")
    with pytest.raises(ConfigError, match="job j: key 'size' is ambiguous; use one of inner.size, other.size"):
        apply_overrides(Outer(), {"size": 1}, where="job j")


@pytest.mark.parametrize("key,value,expected", [
    ("limit", "5", "int | None"), ("limit", 1.5, "int | None"), ("flag", 1, "bool"), ("rate", "0.1", "float"),
    ("rate", True, "float"), ("mode", "c", "'a' | 'b'"), ("levels", [1, "x"], r"tuple\[float, ...\]"),
    ("name", 3, "str"), ("sizes", [1], "dict"),
])
def test_wrong_types_are_errors(key, value, expected):
    with pytest.raises(ConfigError, match=f"must be {expected}, got"):
        apply_overrides(Outer(), {key: value})


def test_conversions_that_lose_nothing():
    c = apply_overrides(Outer(), {"levels": [1, 2.5], "limit": None, "sizes": {"n": 1}})
    assert c.inner.levels == (1.0, 2.5)
    assert c.limit is None and c.sizes == {"n": 1}


def test_sections_as_dicts_and_validation_hooks():
    c = apply_overrides(Outer(), {"inner": {"rate": 0.5, "mode": "b"}})
    assert c.inner == Inner(rate=0.5, mode="b")
    with pytest.raises(ConfigError, match="is a section"):
        apply_overrides(Outer(), {"inner": 3})
    with pytest.raises(ConfigError, match="inner: unknown key 'bogus'"):
        apply_overrides(Outer(), {"inner": {"bogus": 1}})
    with pytest.raises(ConfigError, match="limit=-1 rejected: limit must be >= 0"):
        apply_overrides(Outer(), {"limit": -1})


def test_records_and_docs():
    d = to_dict(Outer())
    assert d["inner"]["levels"] == [1.0, 2.0]
    flat = flatten(d)
    assert flat["inner.rate"] == 0.1 and flat["other.size"] == 4 and flat["sizes"] == {}
    assert field_docs(Inner)["rate"] == "A rate."
    rows = {k: (v, t, doc) for k, v, t, doc in describe(Outer())}
    assert rows["inner.mode"] == ("a", "'a' | 'b'", "A mode.") and rows["limit"][1] == "int | None"
