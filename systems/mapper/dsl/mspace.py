"""Machine spaces (``Machine(GPU)`` and its transformations) with the DSL's index semantics.

A machine space is an N-d array of processors. It is stored as its shape plus the processors in
C order (last index fastest). Every transformation builds a new space whose point ``new[idx]``
names the processor of ``old[f(idx)]``:

- ``merge(d1, d2)``: removes ``d2``; the merged dimension sits where ``d1`` was and
  ``new[.., i, ..] = old[.., i / size[d2] (at d1), .., i % size[d2] (at d2), ..]`` (d2 fastest).
- ``split(d, f)``: ``new[.., i, j, ..] = old[.., i + j*f, ..]`` with ``new.size[d] = f`` and
  ``new.size[d+1] = size[d] / f`` (``f`` must divide ``size[d]``).
- ``swap(d1, d2)``, ``slice(d, lo, hi)`` (both ends inclusive), ``reverse(d)``.
- ``balance_split(d, k)``: factors ``size[d]`` into ``k`` factors as evenly as possible, larger first
  (6 -> 3 x 2), applied like repeated ``split`` (first new dimension fastest).
- ``auto_split(d, vec)``: factors ``size[d] = O`` into ``O_1..O_N`` (N = len(vec)) minimising
  ``sum_{i != j} W_i W_j`` with ``W_i = vec[i] / O_i``; ties broken by the smaller ``sum W_i``
  (the most cubic block) and then by larger leading factors.
"""

from __future__ import annotations

import itertools
from functools import lru_cache

from systems.mapper.dsl.errors import MappingError


class DSLRuntimeError(Exception):
    """Raised by space operations; the interpreter adds the source location."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


def _prod(xs) -> int:
    p = 1
    for x in xs:
        p *= x
    return p


def _strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    out, acc = [], 1
    for s in reversed(shape):
        out.append(acc)
        acc *= s
    return tuple(reversed(out))


@lru_cache(maxsize=4096)
def factorizations(n: int, k: int) -> tuple[tuple[int, ...], ...]:
    """All ordered k-tuples of positive integers whose product is n."""
    if k == 1:
        return ((n,),)
    out = []
    for d in range(1, n + 1):
        if n % d == 0:
            for rest in factorizations(n // d, k - 1):
                out.append((d,) + rest)
    return tuple(out)


def balanced_factors(n: int, k: int) -> tuple[int, ...]:
    """``n`` as ``k`` factors as even as possible, larger first (6, 2 -> (3, 2))."""
    best = min(factorizations(n, k), key=lambda f: (max(f) - min(f), tuple(-x for x in sorted(f, reverse=True))))
    return tuple(sorted(best, reverse=True))


def auto_factors(n: int, vec: tuple[int, ...]) -> tuple[int, ...]:
    """Factor ``n`` along ``vec`` minimising the pairwise products of per-processor extents."""
    def key(f):
        w = [v / o for v, o in zip(vec, f)]
        pair = sum(w[i] * w[j] for i in range(len(w)) for j in range(len(w)) if i != j)
        return (round(pair, 9), round(sum(w), 9), tuple(-x for x in f))
    return min(factorizations(n, len(vec)), key=key)


class MSpace:
    """An N-d machine space over processors of one kind."""

    __slots__ = ("kind", "shape", "procs", "_cache", "_inverse")

    def __init__(self, kind: str, shape: tuple[int, ...], procs: tuple):
        self.kind = kind
        self.shape = tuple(shape)
        self.procs = procs
        self._cache: dict = {}
        self._inverse: dict | None = None

    def __repr__(self) -> str:
        return f"MSpace({self.kind}, size={self.shape})"

    @property
    def size(self) -> tuple[int, ...]:
        return self.shape

    # -- points -------------------------------------------------------------------------------
    def _check_dim(self, d, what: str) -> int:
        if not isinstance(d, int) or isinstance(d, bool):
            raise DSLRuntimeError("type_mismatch", f"{what}: dimension must be an int, got {d!r}")
        if not 0 <= d < len(self.shape):
            raise DSLRuntimeError("index_out_of_bounds",
                                  f"{what}: dimension {d} out of bounds for a {len(self.shape)}-d machine space {self.shape}")
        return d

    def point(self, coords: tuple[int, ...]):
        """The processor at ``coords`` (each coordinate taken modulo its dimension's size)."""
        if len(coords) != len(self.shape):
            raise DSLRuntimeError("dimension_mismatch",
                                  f"machine space of size {self.shape} indexed with {len(coords)} coordinate(s)")
        flat = 0
        for c, s in zip(coords, self.shape):
            flat = flat * s + (c % s)
        return self.procs[flat]

    def points(self, coords: list) -> tuple:
        """All processors matching ``coords`` where ``None`` is a wildcard (``*``)."""
        if len(coords) != len(self.shape):
            raise DSLRuntimeError("dimension_mismatch",
                                  f"machine space of size {self.shape} indexed with {len(coords)} coordinate(s)")
        ranges = [range(s) if c is None else (c % s,) for c, s in zip(coords, self.shape)]
        return tuple(self.point(tuple(p)) for p in itertools.product(*ranges))

    def coords_of(self, proc) -> tuple[int, ...] | None:
        """Coordinates of ``proc`` in this space (first occurrence), or None."""
        if self._inverse is None:
            inv = {}
            for idx in itertools.product(*[range(s) for s in self.shape]):
                inv.setdefault(self.point(idx), idx)
            self._inverse = inv
        return self._inverse.get(proc)

    # -- transformations ----------------------------------------------------------------------
    def _derive(self, new_shape: tuple[int, ...], old_of) -> "MSpace":
        procs = []
        for idx in itertools.product(*[range(s) for s in new_shape]):
            procs.append(self.point(old_of(idx)))
        return MSpace(self.kind, new_shape, tuple(procs))

    def _cached(self, key, build):
        out = self._cache.get(key)
        if out is None:
            out = build()
            self._cache[key] = out
        return out

    def merge(self, d1, d2) -> "MSpace":
        self._check_dim(d1, "merge")
        self._check_dim(d2, "merge")
        if d1 == d2:
            raise DSLRuntimeError("index_out_of_bounds", f"merge({d1}, {d2}): the two dimensions must differ")

        def build():
            s2 = self.shape[d2]
            rest = [i for i in range(len(self.shape)) if i != d2]
            pos = rest.index(d1)
            new_shape = tuple(self.shape[i] * s2 if i == d1 else self.shape[i] for i in rest)

            def old_of(idx):
                old = [0] * len(self.shape)
                for k, i in enumerate(rest):
                    old[i] = idx[k]
                v = idx[pos]
                old[d1], old[d2] = v // s2, v % s2
                return tuple(old)
            return self._derive(new_shape, old_of)
        return self._cached(("merge", d1, d2), build)

    def _split_into(self, d: int, factors: tuple[int, ...], what: str) -> "MSpace":
        if _prod(factors) != self.shape[d] or any(f <= 0 for f in factors):
            raise DSLRuntimeError("index_out_of_bounds",
                                  f"{what}: factors {factors} do not divide dimension {d} of size {self.shape[d]}")
        new_shape = self.shape[:d] + tuple(factors) + self.shape[d + 1:]
        k = len(factors)

        def old_of(idx):
            v, mul = 0, 1
            for j in range(k):
                v += idx[d + j] * mul
                mul *= factors[j]
            return idx[:d] + (v,) + idx[d + k:]
        return self._derive(new_shape, old_of)

    def split(self, d, f) -> "MSpace":
        self._check_dim(d, "split")
        if not isinstance(f, int) or f <= 0 or self.shape[d] % f:
            raise DSLRuntimeError("index_out_of_bounds",
                                  f"split({d}, {f}): {f} does not divide dimension {d} of size {self.shape[d]}")
        return self._cached(("split", d, f), lambda: self._split_into(d, (f, self.shape[d] // f), f"split({d}, {f})"))

    def swap(self, d1, d2) -> "MSpace":
        self._check_dim(d1, "swap")
        self._check_dim(d2, "swap")

        def build():
            perm = list(range(len(self.shape)))
            perm[d1], perm[d2] = perm[d2], perm[d1]
            new_shape = tuple(self.shape[p] for p in perm)

            def old_of(idx):
                old = [0] * len(self.shape)
                for k, p in enumerate(perm):
                    old[p] = idx[k]
                return tuple(old)
            return self._derive(new_shape, old_of)
        return self._cached(("swap", d1, d2), build)

    def slice(self, d, lo, hi) -> "MSpace":
        self._check_dim(d, "slice")
        if not (isinstance(lo, int) and isinstance(hi, int)) or not 0 <= lo <= hi < self.shape[d]:
            raise DSLRuntimeError("index_out_of_bounds",
                                  f"slice({d}, {lo}, {hi}): need 0 <= lo <= hi < {self.shape[d]} (both ends inclusive)")

        def build():
            new_shape = self.shape[:d] + (hi - lo + 1,) + self.shape[d + 1:]
            return self._derive(new_shape, lambda idx: idx[:d] + (idx[d] + lo,) + idx[d + 1:])
        return self._cached(("slice", d, lo, hi), build)

    def reverse(self, d) -> "MSpace":
        self._check_dim(d, "reverse")
        s = self.shape[d]
        return self._cached(("reverse", d), lambda: self._derive(
            self.shape, lambda idx: idx[:d] + (s - 1 - idx[d],) + idx[d + 1:]))

    def balance_split(self, d, k) -> "MSpace":
        self._check_dim(d, "balance_split")
        if k not in (2, 3):
            raise DSLRuntimeError("index_out_of_bounds", f"balance_split({d}, {k}): k must be 2 or 3")
        return self._cached(("bsplit", d, k), lambda: self._split_into(
            d, balanced_factors(self.shape[d], k), f"balance_split({d}, {k})"))

    def auto_split(self, d, vec) -> "MSpace":
        self._check_dim(d, "auto_split")
        if not isinstance(vec, tuple) or not vec or not all(isinstance(v, int) for v in vec):
            raise DSLRuntimeError("type_mismatch", f"auto_split({d}, ...): second argument must be a tuple of ints, got {vec!r}")
        vec = tuple(max(1, v) for v in vec)
        return self._cached(("asplit", d, vec), lambda: self._split_into(
            d, auto_factors(self.shape[d], vec), f"auto_split({d}, {vec})"))


__all__ = ["MSpace", "DSLRuntimeError", "MappingError", "auto_factors", "balanced_factors", "factorizations"]
