"""The CPU tensor-memory tracker counts live storages and frees them."""

import torch

from systems.moe.memory import TensorMemoryTracker, persistent_bytes


def test_tracker_peak_and_release():
    mb = 1000 * 1000 * 4
    with TensorMemoryTracker() as t:
        a = torch.ones(1000, 1000)
        b = torch.ones(1000, 1000)
        assert t.current == 2 * mb
        v = a.view(-1)  # a view adds nothing
        assert t.current == 2 * mb
        del a, v
        assert t.current == mb
        c = b + 1
        del c
    assert t.peak_bytes == 2 * mb
    assert t.current == mb
    del b


def test_excluded_tensors_are_not_counted():
    w = torch.ones(500, 500, requires_grad=True)
    with TensorMemoryTracker(exclude=[w]) as t:
        y = w.t()  # a view of an excluded storage
        z = (y * 2).sum()
        z.backward()
    assert t.peak_bytes >= 500 * 500 * 4  # y*2 and the gradient
    assert t.peak_bytes <= 3 * 500 * 500 * 4 + 64
    assert persistent_bytes([w, w.t()]) == 500 * 500 * 4


def test_saved_activations_stay_counted_until_backward():
    x = torch.ones(256, 256, requires_grad=True)
    with TensorMemoryTracker(exclude=[x]) as t:
        h = x.exp()  # saved for backward
        loss = h.sum()
        del h  # still alive inside autograd
        assert t.current >= 256 * 256 * 4
        loss.backward()
        del loss
    assert t.current == 0 or t.current <= 256 * 256 * 4 + 64  # only x.grad may remain
