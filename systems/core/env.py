"""Machine facts: device detection, hardware description, seeding, git sha, timing."""

from __future__ import annotations

import functools
import os
import platform
import random
import shutil
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

REPO_ROOT = Path(__file__).resolve().parents[2]


def syslab_home() -> Path:
    """``$SYSLAB_HOME`` or ``<repo>/.syslab``: where embedded stores live (created on demand)."""
    home = Path(os.environ.get("SYSLAB_HOME") or REPO_ROOT / ".syslab").resolve()
    home.mkdir(parents=True, exist_ok=True)
    return home


def device(prefer_gpu: bool = True) -> str:
    """``"cuda"`` when torch sees a GPU and ``prefer_gpu``, else ``"cpu"``."""
    if not prefer_gpu:
        return "cpu"
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


def device_name(dev: str | None = None) -> str:
    """Human name of a device: the GPU model for CUDA, the CPU model otherwise."""
    dev = dev or device()
    if dev.startswith("cuda"):
        import torch

        return torch.cuda.get_device_name(0)
    return cpu_model()


@functools.lru_cache(maxsize=1)
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_count() -> int:
    try:
        import torch
    except ImportError:
        return 0
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


@functools.lru_cache(maxsize=1)
def _gpu_names() -> tuple[str, ...]:
    """GPU model names, without importing torch unless it is already loaded (it costs seconds)."""
    import sys

    if "torch" in sys.modules:
        n = gpu_count()
        return tuple(sys.modules["torch"].cuda.get_device_name(i) for i in range(n))
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=10).stdout
            return tuple(line.strip() for line in out.splitlines() if line.strip())
        except (OSError, subprocess.SubprocessError):
            return ()
    return ()


def hardware_description() -> str:
    """One string naming the machine a number was measured on, e.g. ``"2 CPU (Intel Xeon ...) | no GPU"``."""
    cpus = os.cpu_count() or 1
    names = _gpu_names()
    gpu = f"{len(names)}x {names[0]}" if names else "no GPU"
    return f"{cpus} CPU ({cpu_model()}) | {gpu}"


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (when installed).

    Libraries are imported *before* any generator is seeded: a first ``import torch`` draws from
    Python's ``random`` and would otherwise shift the seeded stream.
    """
    try:
        import numpy as np
    except ImportError:
        np = None
    try:
        import torch
    except ImportError:
        torch = None
    random.seed(seed)
    if np is not None:
        np.random.seed(seed % (2**32))
    if torch is not None:
        torch.manual_seed(seed)


@functools.lru_cache(maxsize=1)
def git_sha() -> str:
    """The repo's HEAD sha (``+dirty`` when the tree has changes), or ``$SYSLAB_GIT_SHA``, or ``unknown``."""
    if os.environ.get("SYSLAB_GIT_SHA"):
        return os.environ["SYSLAB_GIT_SHA"]
    try:
        sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO_ROOT,
                             capture_output=True, text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


class Timer:
    """Wall-clock stopwatch: ``with Timer() as t: ...; t.seconds``."""

    def __init__(self) -> None:
        self.start = 0.0
        self.seconds = 0.0

    def __enter__(self) -> "Timer":
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.start


@contextmanager
def timed(out: dict, key: str) -> Iterator[None]:
    """Store the elapsed seconds of the block in ``out[key]``."""
    t0 = time.perf_counter()
    try:
        yield
    finally:
        out[key] = time.perf_counter() - t0


def median_time(fn, repeats: int = 5, warmup: int = 1, sync=None) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs after ``warmup`` runs (``sync`` e.g. cuda sync)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        if sync:
            sync()
        t0 = time.perf_counter()
        fn()
        if sync:
            sync()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]
