"""Machine spaces (``Machine(GPU)`` and its transformations) with the real runtime's semantics.

Follows DSLMapper's ``MSpace.cpp`` and ``myalgorithm.h`` (commit c13b92e):

- ``Machine(K)`` is a 2-D space ``(nodes, processors of kind K per node)``.
- A transformed space remembers its parent and the operation. Indexing it maps the coordinates back
  through every operation to the root ``(node, processor)`` *without* checking intermediate
  coordinates against their dimension sizes; only the root is checked, with the real messages
  ``Sharding node index out of bound!`` and ``Slice processor index out of bound!``.
- Inverse maps (new point -> old point): ``split(d, f)``: ``old[d] = p[d] + p[d+1] * f`` (sizes
  ``(f, size/f)``); ``merge(d1, d2)``: ``old[d1] = v / size[d2]``, ``old[d2] = v % size[d2]``;
  ``swap``; ``slice(d, lo, hi)``: ``old[d] = p[d] + lo``; ``reverse(d)``: ``size - 1 - p[d]``;
  ``balance_split``/``auto_split``/``greedy_split``: ``old[d] = sum_k p[d+k] * prod(new[:k])``
  (the first new dimension varies fastest).
- ``balance_split(d, k)``: the prime factors of ``size[d]`` (2..17, ascending) each multiply the
  currently smallest of ``k`` factors, which are then sorted in decreasing order (12 -> (6, 2)).
- ``auto_split(d, L)``: ``precise_enumerate``: every way of writing ``size[d]`` as a product
  ``O_1..O_n``, minimising ``sum O_i / L_i`` (float arithmetic, ties within 1e-6 kept in enumeration
  order); among the ties, ``greedy``'s answer if it is one, else the first.
- ``greedy_split(d, L)``: ``greedy``: primes from largest to smallest each go to the dimension with
  the largest remaining ``L_i / O_i``.
"""

from __future__ import annotations

import itertools
import struct
from functools import lru_cache

from systems.mapper.dsl.errors import MappingError


class DSLRuntimeError(Exception):
    """Raised by space operations; the interpreter adds the source location."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


def _f32(x: float) -> float:
    return struct.unpack("f", struct.pack("f", x))[0]


# -- factorisations (myalgorithm.h) ----------------------------------------------------------------
_PRIMES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89,
           97, 101, 103, 107, 109, 113, 127, 131)


def prime_factors(n: int) -> list[int]:
    """``generate_prime_factor`` of myalgorithm.h: prime factors in ascending order."""
    if n > 131 * 131:
        raise DSLRuntimeError("index_out_of_bounds", f"cannot factor {n}: the real runtime's prime table "
                              "supports numbers up to 131*131")
    out = []
    for p in _PRIMES:
        if p * p > n:
            break
        while n % p == 0:
            out.append(p)
            n //= p
        if n == 1:
            break
    if n > 1:
        out.append(n)
    return out


@lru_cache(maxsize=4096)
def greedy_factors(number: int, launch: tuple[int, ...]) -> tuple[int, ...]:
    """``greedy`` of myalgorithm.h (the DefaultMapper's heuristic)."""
    result = [1] * len(launch)
    if number == 1:
        return tuple(result)
    dom = [float(x) for x in launch]
    for p in reversed(prime_factors(number)):
        j = max(range(len(dom)), key=lambda i: (dom[i], -i))  # first maximum
        result[j] *= p
        dom[j] /= p
    return tuple(result)


def _placements(prime: int, power: int, places: int) -> list[list[int]]:
    """``enumerate_placement``: ways to spread prime**power over ``places`` (first place varies slowest)."""
    if places == 1:
        return [[prime ** power]]
    out = []
    cur = 1
    for i in range(power + 1):
        for rest in _placements(prime, power - i, places - 1):
            out.append([cur] + rest)
        cur *= prime
    return out


@lru_cache(maxsize=4096)
def auto_factors(number: int, launch: tuple[int, ...]) -> tuple[int, ...]:
    """``precise_enumerate`` of myalgorithm.h: ``number`` as ``len(launch)`` factors minimising sum O_i/L_i."""
    dim = len(launch)
    if number == 1:
        return (1,) * dim
    powers: dict[int, int] = {}
    for p in prime_factors(number):
        powers[p] = powers.get(p, 0) + 1
    unique = sorted(powers)
    choices: list[list[int]] = []

    def product(primes: list[int], partial: list[int]) -> None:  # cartesian_product: largest prime outermost
        if not primes:
            choices.append(partial)
            return
        p = primes[-1]
        for item in _placements(p, powers[p], dim):
            product(primes[:-1], [a * b for a, b in zip(partial, item)])
    product(unique, [1] * dim)
    minimal = _f32(2147483647.0)
    best: list[list[int]] = []
    for o in choices:
        acc = 0.0
        for oi, li in zip(o, launch):
            if li == 0:
                raise DSLRuntimeError("index_out_of_bounds", f"auto_split: launch domain {launch} has a zero extent")
            acc += _f32(_f32(float(oi)) * 1.0 / _f32(float(li)))
        cur = _f32(acc)
        if abs(_f32(cur - minimal)) < 1e-6:
            best.append(o)
        elif cur < minimal:
            minimal = cur
            best = [o]
    g = list(greedy_factors(number, launch))
    return tuple(g if g in best else best[0])


def balanced_factors(n: int, k: int) -> tuple[int, ...]:
    """``BalSplitMSpace::trans_dim``: ``n`` as ``k`` factors (primes 2..17 assigned to the smallest), decreasing."""
    factors = []
    m = n
    for p in (2, 3, 5, 7, 11, 13, 17):
        while m % p == 0:
            factors.append(p)
            m //= p
    if m != 1:
        raise DSLRuntimeError("index_out_of_bounds", f"balance_split: {n} has a prime factor above 17, which the "
                              "real runtime cannot split (MSpace.cpp factors only 2..17)")
    dims = [1] * k
    for p in factors:
        j = dims.index(min(dims))
        dims[j] *= p
    return tuple(sorted(dims, reverse=True))


# -- spaces --------------------------------------------------------------------------------------------
class MSpace:
    """A machine space: a shape plus how its points map back to the root ``(node, processor)`` space."""

    __slots__ = ("kind", "shape", "parent", "op", "args", "_cache", "_nodes", "_procs")

    def __init__(self, kind: str | None, shape: tuple[int, ...], parent: "MSpace | None" = None,
                 op: str | None = None, args: tuple = ()):
        self.kind = kind
        self.shape = tuple(shape)
        self.parent = parent
        self.op = op
        self.args = args
        self._cache: dict = {}

    @classmethod
    def root(cls, kind: str, nodes: int, per_node: int) -> "MSpace":
        """``Machine(kind)``: ``(nodes, processors of kind per node)``."""
        return cls(kind, (nodes, per_node))

    def __repr__(self) -> str:
        return f"MSpace({self.kind}, size={self.shape})"

    @property
    def size(self) -> tuple[int, ...]:
        return self.shape

    @property
    def volume(self) -> int:
        v = 1
        for s in self.shape:
            v *= s
        return v

    # -- transformations -----------------------------------------------------------------------
    def _derive(self, op: str, args: tuple, shape: tuple[int, ...]) -> "MSpace":
        key = (op, args)
        sp = self._cache.get(key)
        if sp is None:
            sp = MSpace(self.kind, shape, self, op, args)
            self._cache[key] = sp
        return sp

    def _dim(self, d: int, what: str) -> None:
        if d < 0 or d >= len(self.shape):
            raise DSLRuntimeError("index_out_of_bounds", f"{what}'s arguments have exceeded the allowed dimensions: "
                                  f"{len(self.shape) - 1}")

    def split(self, d: int, f: int) -> "MSpace":
        self._dim(d, "Split")
        if f <= 0:
            raise DSLRuntimeError("index_out_of_bounds", f"split({d}, {f}): the factor must be positive")
        if self.shape[d] % f:  # the real runtime prints this and goes on with a truncated size
            raise DSLRuntimeError("index_out_of_bounds", f"{self.shape[d]} must be divisible by {f}")
        s = self.shape
        return self._derive("split", (d, f), s[:d] + (f, s[d] // f) + s[d + 1:])

    def merge(self, d1: int, d2: int) -> "MSpace":
        if d1 == d2:
            raise DSLRuntimeError("index_out_of_bounds", "Merge's arguments should be different integers")
        self._dim(max(d1, d2), "Merge")
        self._dim(min(d1, d2), "Merge")
        s = self.shape
        new = tuple(s[d1] * s[d2] if i == d1 else s[i] for i in range(len(s)) if i != d2)
        return self._derive("merge", (d1, d2, s[d2]), new)

    def swap(self, d1: int, d2: int) -> "MSpace":
        if d1 == d2:
            raise DSLRuntimeError("index_out_of_bounds", "Swap's arguments should be different integers")
        self._dim(max(d1, d2), "Swap")
        self._dim(min(d1, d2), "Swap")
        s = list(self.shape)
        s[d1], s[d2] = s[d2], s[d1]
        return self._derive("swap", (d1, d2), tuple(s))

    def slice(self, d: int, lo: int, hi: int) -> "MSpace":
        self._dim(d, "Slice")
        if lo >= self.shape[d] or hi >= self.shape[d] or lo < 0 or hi < lo:
            raise DSLRuntimeError("index_out_of_bounds", f"Slice out of bound: {self.shape[d]} (slice({d}, {lo}, {hi}))")
        s = self.shape
        return self._derive("slice", (d, lo, hi), s[:d] + (hi - lo + 1,) + s[d + 1:])

    def reverse(self, d: int) -> "MSpace":
        self._dim(d, "Reverse")
        return self._derive("reverse", (d, self.shape[d]), self.shape)

    def _split_into(self, op: str, d: int, factors: tuple[int, ...]) -> "MSpace":
        s = self.shape
        return self._derive(op, (d, factors), s[:d] + tuple(factors) + s[d + 1:])

    def balance_split(self, d: int, k: int) -> "MSpace":
        self._dim(d, "balance_split")
        if k not in (2, 3):
            raise DSLRuntimeError("index_out_of_bounds", f"Unsupported Balanced Split Dimension: {k}")
        return self._split_into("balance_split", d, balanced_factors(self.shape[d], k))

    def auto_split(self, d: int, vec: tuple[int, ...]) -> "MSpace":
        self._dim(d, "auto_split")
        return self._split_into("auto_split", d, auto_factors(self.shape[d], tuple(vec)))

    def greedy_split(self, d: int, vec: tuple[int, ...]) -> "MSpace":
        self._dim(d, "greedy_split")
        return self._split_into("greedy_split", d, greedy_factors(self.shape[d], tuple(vec)))

    # -- points --------------------------------------------------------------------------------
    def _back(self, p: list[int]) -> list[int]:
        """One inverse step: a point of this space -> a point of the parent space (``trans``)."""
        op, a = self.op, self.args
        if op == "split":
            d, f = a
            return p[:d] + [p[d] + p[d + 1] * f] + p[d + 2:]
        if op == "merge":
            d1, d2, vol2 = a
            md = d1 if d1 < d2 else d1 - 1
            v = p[md]
            out = p[:md] + [v // vol2 if v >= 0 else -((-v) // vol2)] + p[md + 1:]
            out.insert(d2, _cmod(v, vol2))
            return out
        if op == "swap":
            d1, d2 = a
            out = list(p)
            out[d1], out[d2] = out[d2], out[d1]
            return out
        if op == "slice":
            d, lo, hi = a
            if p[d] > hi - lo:
                raise DSLRuntimeError("index_out_of_bounds", f"slice coordinate {p[d]} exceeds {hi - lo} (the real "
                                      "runtime asserts old_point[dim] <= high - low)")
            return p[:d] + [p[d] + lo] + p[d + 1:]
        if op == "reverse":
            d, vol = a
            return p[:d] + [vol - 1 - p[d]] + p[d + 1:]
        d, factors = a  # balance_split / auto_split / greedy_split
        v, mul = 0, 1
        for k, f in enumerate(factors):
            v += p[d + k] * mul
            mul *= f
        return p[:d] + [v] + p[d + len(factors):]

    def root_point(self, coords: tuple[int, ...]) -> tuple[int, int]:
        """``get_node_proc``: the root ``(node, processor)`` of ``coords``; raises with the real messages."""
        hit = self._cache.get(coords)
        if hit is not None:
            return hit
        if len(coords) != len(self.shape):
            raise DSLRuntimeError("dimension_mismatch", f"a {len(self.shape)}-d machine space {self.shape} indexed with "
                                  f"{len(coords)} coordinate(s) {tuple(coords)}")
        p = list(coords)
        sp = self
        while sp.parent is not None:
            p = sp._back(p)
            sp = sp.parent
        nodes, procs = sp.shape
        if p[0] >= nodes or p[0] < 0:
            raise DSLRuntimeError("index_out_of_bounds", f"Sharding node index out of bound! {p[0]} >= {nodes} "
                                  f"(point {tuple(coords)} of {self!r})" if p[0] >= 0 else
                                  f"Sharding node index out of bound! {p[0]} < 0 (point {tuple(coords)} of {self!r})")
        if p[1] >= procs or p[1] < 0:
            raise DSLRuntimeError("index_out_of_bounds", f"Slice processor index out of bound! {p[1]} >= {procs} "
                                  f"(point {tuple(coords)} of {self!r})" if p[1] >= 0 else
                                  f"Slice processor index out of bound! {p[1]} < 0 (point {tuple(coords)} of {self!r})")
        out = (p[0], p[1])
        if len(self._cache) < 65536:
            self._cache[tuple(coords)] = out
        return out

    def root_points(self, coords: list[int]) -> tuple[bool, object]:
        """``get_node_proc`` with ``-1`` (``*``) coordinates: ``(True, point)`` or ``(False, [points])``.

        Builds the set of points exactly as ``MSpace::all_append`` does (its bookkeeping is only right
        for a single ``*``; with several, the real runtime builds malformed points, which fail here too).
        """
        one = True
        one_point: list[int] = []
        pts: list[list[int]] = []
        for i, c in enumerate(coords):
            if c >= 0:
                if one:
                    one_point.append(c)
                else:
                    for q in pts:
                        q.append(c)
            else:
                if c != -1:
                    raise DSLRuntimeError("index_out_of_bounds", f"machine index {c}: negative coordinates are not "
                                          "allowed (-1 means '*')")
                if one:
                    pts.append(list(one_point))
                one = False
                size = self.shape[i] if i < len(self.shape) else 0
                n0 = len(pts)
                k = 0
                while k < n0:
                    for j in range(size):
                        pts.append(pts[k] + [j])
                        if j == size - 1:
                            del pts[k]
                    k += 1
        if one:
            return True, self.root_point(tuple(one_point))
        return False, [self.root_point(tuple(q)) for q in pts]

    def coords_of_root(self, node: int, proc: int) -> tuple[int, ...]:
        """``legion2mspace``: the point of this space that is root ``(node, proc)`` (forward maps)."""
        chain = []
        sp = self
        while sp.parent is not None:
            chain.append(sp)
            sp = sp.parent
        p = [node, proc]
        for s in reversed(chain):
            p = s._forward(p)
        for c, n in zip(p, self.shape):
            if c >= n:
                raise DSLRuntimeError("index_out_of_bounds", f"{c} >= {n} in legion2mspace: index out of bound!")
        return tuple(p)

    def _forward(self, p: list[int]) -> list[int]:
        op, a = self.op, self.args
        if op == "split":
            d, f = a
            return p[:d] + [p[d] % f, p[d] // f] + p[d + 1:]
        if op == "merge":
            d1, d2, vol2 = a
            out = []
            for i, x in enumerate(p):
                if i == d1:
                    out.append(p[d1] * vol2 + p[d2])
                elif i != d2:
                    out.append(x)
            return out
        if op == "swap":
            d1, d2 = a
            out = list(p)
            out[d1], out[d2] = out[d2], out[d1]
            return out
        if op == "slice":
            d, lo, hi = a
            if p[d] < lo:
                raise DSLRuntimeError("index_out_of_bounds", f"old_point[{d}]={p[d]} < {lo}, not existing in the machine "
                                      "model using SliceMSpace")
            return p[:d] + [p[d] - lo] + p[d + 1:]
        if op == "reverse":
            d, vol = a
            return p[:d] + [vol - 1 - p[d]] + p[d + 1:]
        d, factors = a
        v = p[d]
        new = []
        for f in factors:
            new.append(v % f)
            v //= f
        return p[:d] + new + p[d + 1:]

    def all_points(self) -> list[tuple[int, ...]]:
        """Every in-range coordinate tuple of this space (C order)."""
        return list(itertools.product(*[range(s) for s in self.shape]))


def _cmod(a: int, b: int) -> int:
    """C's ``%`` (sign of the dividend)."""
    r = abs(a) % abs(b)
    return r if a >= 0 else -r


__all__ = ["DSLRuntimeError", "MSpace", "MappingError", "auto_factors", "balanced_factors", "greedy_factors",
           "prime_factors"]
