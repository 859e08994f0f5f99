"""The HAG native library: compiled search, cover check and fused pull-sum kernel (``hag_native.cpp``).

Why a plain C++ shared library loaded with :mod:`ctypes` (and not numba, a CPython/torch extension or
Rust/PyO3):

* **It builds anywhere this project runs, in seconds, with what is already there.** CI and the
  development machines have ``g++`` and nothing else is needed: no new package pin, no Rust toolchain,
  no torch headers (a ``torch.utils.cpp_extension`` build takes about a minute and needs ``ninja`` for
  JIT builds). ``make setup`` builds it (``python -m systems.hag.native build``); if it is missing or
  stale (its file name carries a hash of the sources), the first use builds it.
* **It does not depend on the Python or torch ABI.** The library exports a C ABI over raw arrays, so one
  build serves Python 3.11/torch 2.13 here and Python 3.12/torch 2.11 on the GPU machine (which has no
  numba and cannot install anything). numba would also add a JIT warm-up to every fresh process.
* **It degrades gracefully.** When no compiler is present, the build fails, or ``SYSLAB_HAG_NATIVE=0``
  is set, :func:`load` returns ``None`` and warns once with the reason; the pure-Python search
  (``systems.hag.search``) and torch executor paths are used instead, with the same results (the
  Python search is the bit-identical reference in the tests), only slower.

Functions: :func:`available`, :func:`status`, :func:`search`, :func:`verify`, :func:`pull_sum`.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SOURCES = ("hag_native.cpp", "hag_kernel.inc")
VERSION = 3
"""Must equal ``hag_native_version()`` of the library."""

_FLAGS = ["-O3", "-fPIC", "-shared", "-std=c++17"]
_lock = threading.Lock()
_lib = None
_reason: str | None = None
_warned = False


def _digest() -> str:
    h = hashlib.sha256()
    for name in SOURCES:
        h.update((HERE / name).read_bytes())
    h.update(" ".join(_FLAGS).encode())
    return h.hexdigest()[:12]


def _build_dirs() -> list[Path]:
    dirs = [HERE / "build"]
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    dirs.append(Path(cache) / "syslab" / "hag-native")
    dirs.append(Path(tempfile.gettempdir()) / f"syslab-hag-native-{os.getuid() if hasattr(os, 'getuid') else 0}")
    return dirs


def library_path() -> Path | None:
    """The built library for the current sources, if one exists."""
    name = f"libhag_native-{_digest()}.so"
    for d in _build_dirs():
        if (d / name).is_file():
            return d / name
    return None


def _compiler() -> str | None:
    for cand in (os.environ.get("CXX"), "g++", "c++", "clang++"):
        if cand and shutil.which(cand):
            return cand
    return None


def build(verbose: bool = False) -> Path:
    """Compile the library (with OpenMP when the compiler has it); returns its path.

    Raises ``RuntimeError`` with the compiler's message when no build succeeds.
    """
    cxx = _compiler()
    if cxx is None:
        raise RuntimeError("no C++ compiler found (set CXX, or install g++)")
    name = f"libhag_native-{_digest()}.so"
    errors = []
    for d in _build_dirs():
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            errors.append(f"{d}: {exc}")
            continue
        if not os.access(d, os.W_OK):
            errors.append(f"{d}: not writable")
            continue
        for extra in (["-fopenmp"], []):
            fd, tmp = tempfile.mkstemp(suffix=".so", dir=d)
            os.close(fd)
            cmd = [cxx, *_FLAGS, *extra, "-o", tmp, str(HERE / "hag_native.cpp")]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode == 0:
                os.replace(tmp, d / name)  # atomic: concurrent builders never see a partial file
                if verbose:
                    print(f"built {d / name} ({'with' if extra else 'without'} OpenMP)")
                return d / name
            os.unlink(tmp)
            errors.append(" ".join(cmd) + ":\n" + proc.stderr.strip()[-2000:])
    raise RuntimeError("building the HAG native library failed:\n" + "\n".join(errors))


def _bind(lib) -> None:
    vp, i32, i64 = ctypes.c_void_p, ctypes.c_int32, ctypes.c_int64
    lib.hag_native_version.restype = ctypes.c_int
    lib.hag_native_version.argtypes = []
    lib.hag_has_openmp.restype = ctypes.c_int
    lib.hag_has_openmp.argtypes = []
    lib.hag_search.restype = i64
    lib.hag_search.argtypes = [i32, vp, vp, i64, i32, i32, i64, i32, i32, vp, vp, vp, vp, vp]
    lib.hag_verify.restype = i64
    lib.hag_verify.argtypes = [i32, i64, vp, vp, vp, vp, vp, i32]
    for fn in (lib.hag_pull_sum_f32, lib.hag_pull_sum_f64):
        fn.restype = None
        fn.argtypes = [i32, vp, vp, vp, i32, vp, vp, i64, vp, vp, vp, i32]


def load(build_if_missing: bool = True):
    """The loaded library (a ``ctypes.CDLL``), or ``None`` with a one-time warning saying why."""
    global _lib, _reason, _warned
    if _lib is not None:
        return _lib
    if _reason is not None and not build_if_missing:
        return None
    with _lock:
        if _lib is not None:
            return _lib
        if os.environ.get("SYSLAB_HAG_NATIVE", "1").strip().lower() in ("0", "false", "no", "off"):
            _reason = "disabled by SYSLAB_HAG_NATIVE=0"
        else:
            try:
                path = library_path()
                if path is None:
                    if not build_if_missing:
                        raise RuntimeError("not built (run `python -m systems.hag.native build` or `make setup`)")
                    path = build()
                lib = ctypes.CDLL(str(path))
                _bind(lib)
                if lib.hag_native_version() != VERSION:
                    raise RuntimeError(f"{path} has version {lib.hag_native_version()}, expected {VERSION}")
                _lib = lib
                _reason = None
                return _lib
            except (RuntimeError, OSError) as exc:
                _reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if not _warned:
            _warned = True
            warnings.warn(f"HAG native library unavailable ({_reason}); using the pure-Python search and "
                          "the torch executor kernels (same results, slower)", RuntimeWarning, stacklevel=3)
        return None


def available() -> bool:
    """True when the native library can be used (builds it on first call if needed)."""
    return load() is not None


def status() -> str:
    """One line: where the library is, or why it is not used."""
    lib = load()
    if lib is None:
        return f"hag native library: not used ({_reason})"
    omp = "with OpenMP" if lib.hag_has_openmp() else "without OpenMP (single-threaded kernel)"
    return f"hag native library: {library_path()} ({omp})"


def _reset_for_tests() -> None:
    global _lib, _reason, _warned
    _lib, _reason, _warned = None, None, False


# ------------------------------------------------------------------------------------------ wrappers

def _ptr(a: np.ndarray) -> int:
    return a.ctypes.data


_ERRORS = {-1: "out of memory", -2: "an in-neighbour list contains a node twice", -3: "internal inconsistency"}


def search(ptr: np.ndarray, idx: np.ndarray, n: int, *, capacity: int, max_depth: int, min_redundancy: int,
           hub_degree: int | None, mode: str, flat: bool):
    """Run the compiled greedy on a CSR. Returns ``(agg (m,2) int64, depth (m,), new_ptr, new_idx, stats)``.

    ``new_ptr/new_idx`` are the real nodes' input lists after the merges (pre-renumbering ids).
    """
    lib = load()
    if lib is None:
        raise RuntimeError(f"HAG native library unavailable: {_reason}")
    ptr = np.ascontiguousarray(ptr, dtype=np.int64)
    idx = np.ascontiguousarray(idx, dtype=np.int32)
    e = int(ptr[-1]) if len(ptr) else 0
    cap = int(max(0, min(capacity, e)))  # every merge removes at least one edge into a real node
    agg = np.zeros(2 * max(cap, 1), dtype=np.int32)
    dep = np.zeros(max(cap, 1), dtype=np.int32)
    new_ptr = np.zeros(n + 1, dtype=np.int64)
    new_idx = np.zeros(max(e, 1), dtype=np.int32)
    stats = np.zeros(8, dtype=np.int64)
    m = lib.hag_search(n, _ptr(ptr), _ptr(idx), cap, int(max_depth), int(min_redundancy),
                       -1 if hub_degree is None else int(hub_degree), 0 if mode == "set" else 1, int(bool(flat)),
                       _ptr(agg), _ptr(dep), _ptr(new_ptr), _ptr(new_idx), _ptr(stats))
    if m < 0:
        raise (MemoryError if m == -1 else ValueError if m == -2 else RuntimeError)(
            f"native HAG search failed: {_ERRORS.get(int(m), m)}")
    m = int(m)
    keys = ("pops", "moved_down", "initial_pairs", "pair_count_work", "count_updates", "tracked_consumers",
            "peak_struct_bytes")
    st = {k: int(v) for k, v in zip(keys, stats.tolist())}
    return (agg[: 2 * m].reshape(m, 2).astype(np.int64), dep[:m].astype(np.int64), new_ptr,
            new_idx[: int(new_ptr[-1])], st)


def verify(n: int, agg: np.ndarray, hptr: np.ndarray, hidx: np.ndarray, gptr: np.ndarray, gidx: np.ndarray,
           seq: bool) -> int:
    """-1 when cover(v) == N(v) for every real node, else the first failing node."""
    lib = load()
    if lib is None:
        raise RuntimeError(f"HAG native library unavailable: {_reason}")
    agg = np.ascontiguousarray(agg, dtype=np.int32).reshape(-1)
    m = len(agg) // 2
    hptr = np.ascontiguousarray(hptr, dtype=np.int64)
    hidx = np.ascontiguousarray(hidx, dtype=np.int32)
    gptr = np.ascontiguousarray(gptr, dtype=np.int64)
    gidx = np.ascontiguousarray(gidx, dtype=np.int32)
    r = lib.hag_verify(n, m, _ptr(agg) if m else None, _ptr(hptr), _ptr(hidx) if len(hidx) else None,
                       _ptr(gptr), _ptr(gidx) if len(gidx) else None, int(seq))
    if r == -2:
        raise MemoryError("native HAG verify: out of memory")
    return int(r)


def pull_sum(ranges: np.ndarray, dst_base: np.ndarray, dst_hi: np.ndarray, d: int, ptr_addr: int, idx_addr: int,
             split: int, lo_addr: int, hi_addr: int, out_addr: int, threads: int, double: bool = False) -> None:
    """One call of the fused pull-sum kernel (addresses are raw data pointers; see hag_native.cpp)."""
    lib = load()
    fn = lib.hag_pull_sum_f64 if double else lib.hag_pull_sum_f32
    fn(len(dst_base), ranges.ctypes.data, dst_base.ctypes.data, dst_hi.ctypes.data, d, ptr_addr, idx_addr, split,
       lo_addr, hi_addr, out_addr, threads)


def main(argv: list[str] | None = None) -> int:
    """``python -m systems.hag.native build|status``."""
    args = sys.argv[1:] if argv is None else argv
    cmd = args[0] if args else "status"
    if cmd == "build":
        try:
            path = library_path() or build(verbose=True)
        except RuntimeError as exc:
            print(f"warning: {exc}\nThe pure-Python HAG search will be used (slower).", file=sys.stderr)
            return 0  # optional component: never fail setup
        print(f"hag native library: {path}")
        return 0
    if cmd == "status":
        print(status())
        return 0
    print("usage: python -m systems.hag.native build|status", file=sys.stderr)
    return 2
