"""Peak tensor memory of one CPU (or GPU) forward+backward, measured by a dispatch mode.

CPU has no ``max_memory_allocated``. :class:`TensorMemoryTracker` is a ``TorchDispatchMode``
that sees every tensor an operator returns: a storage not seen before adds its bytes to the live
total, and a weak-reference finalizer on each tensor subtracts them when the last tensor on that
storage dies (tensors saved for backward stay alive inside autograd, so they count until freed).
Storages that existed before the probe (parameters, optimizer state, the batch) are counted
separately by :func:`persistent_bytes`. ``peak_mem_mb`` = persistent bytes + the peak of live
probe allocations. It measures tensor storage only (no allocator slack, no Python objects).
"""

from __future__ import annotations

import weakref

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves


class TensorMemoryTracker(TorchDispatchMode):
    """``with TensorMemoryTracker(exclude=[...]) as t: ...; t.peak_bytes``."""

    def __init__(self, exclude: list[torch.Tensor] = ()) -> None:
        super().__init__()
        self.external = {t.untyped_storage().data_ptr() for t in exclude}
        self.live: dict[int, list[int]] = {}
        self.current = 0
        self.peak_bytes = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor):
                self._track(t)
        return out

    def _track(self, t: torch.Tensor) -> None:
        try:
            st = t.untyped_storage()
        except (RuntimeError, NotImplementedError):
            return
        key = st.data_ptr()
        if key == 0 or key in self.external:
            return
        if key not in self.live:
            self.live[key] = [st.nbytes(), 0]
            self.current += st.nbytes()
            self.peak_bytes = max(self.peak_bytes, self.current)
        self.live[key][1] += 1
        weakref.finalize(t, self._release, key)

    def _release(self, key: int) -> None:
        entry = self.live.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] <= 0:
            self.current -= entry[0]
            del self.live[key]


def persistent_bytes(tensors) -> int:
    """Bytes of distinct storages among ``tensors`` (parameters, optimizer state...)."""
    seen: dict[int, int] = {}
    for t in tensors:
        if isinstance(t, torch.Tensor):
            st = t.untyped_storage()
            seen[st.data_ptr()] = st.nbytes()
    return sum(seen.values())
