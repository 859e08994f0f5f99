"""The expert strategies: data parallelism, model parallelism, and "one weird trick" (OWT).

* **data parallel** — every layer splits the sample dimension over all P devices (the largest
  power of two <= P dividing the batch).
* **model parallel** — every layer with a channel dimension splits it over as many devices as the
  channel count allows (<= P); sample-only layers (flatten, softmax) run on one device.
* **OWT** (Krizhevsky 2014) — convolutional part data parallel, fully connected layers model
  parallel (channel split); the softmax is data parallel again.

The comparison divides by the best of the three per workload (``SystemSpec.reference_baseline``
is None).
"""

from __future__ import annotations

from systems.layerwise.graph import Graph, Layer
from systems.layerwise.parallel import ParallelConfig, find_config, parallel_dims


def _largest(size: int, devices: int) -> int:
    d = 1
    while d * 2 <= devices and size % (d * 2) == 0:
        d *= 2
    return d


def _pick(layer: Layer, configs: list[ParallelConfig], dim: int, devices: int) -> int:
    degrees = [1] * layer.rank
    if dim in parallel_dims(layer):
        degrees[dim] = _largest(layer.out_shape[dim], devices)
    return find_config(configs, tuple(degrees))


def data_parallel(graph: Graph, configs: dict[str, list[ParallelConfig]], devices: int) -> dict[str, int]:
    return {ly.name: _pick(ly, configs[ly.name], 0, devices) for ly in graph.layers}


def model_parallel(graph: Graph, configs: dict[str, list[ParallelConfig]], devices: int) -> dict[str, int]:
    return {ly.name: _pick(ly, configs[ly.name], 1, devices) for ly in graph.layers}


def owt(graph: Graph, configs: dict[str, list[ParallelConfig]], devices: int) -> dict[str, int]:
    out = {}
    for ly in graph.layers:
        fc = ly.op == "linear" or (ly.op in ("add", "concat") and ly.rank == 2)
        out[ly.name] = _pick(ly, configs[ly.name], 1 if fc else 0, devices)
    return out


BASELINES = {"data-parallel": data_parallel, "model-parallel": model_parallel, "owt": owt}
