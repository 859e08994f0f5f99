"""The methods: static capacity baselines, DynaMoE's re-compiling optimizers, dispatch back-ends, peer.

Torch-free so that ``systems.moe.SPEC`` imports cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Method:
    """How one method dispatches tokens and adapts its capacities."""

    name: str
    """Method name used in jobs and the CLI."""
    backend: str
    """``padded`` | ``tutel`` | ``dropless`` | ``peer`` (the ``mixture-of-experts`` package)."""
    policy: str = "static"
    """Capacity policy of the controller: ``static`` | ``dynamic`` | ``local``."""
    alpha: float | None = None
    """Static: the fixed capacity factor. Adaptive: the starting one (None = the controller's ``alpha0``)."""
    tutel_cf: float = 0.0
    """Tutel capacity factor (``tutel`` back-end only)."""
    cache: bool = False
    """Assignment caching switched by the controller."""
    description: str = ""
    """One line for listings."""


STATIC_ALPHAS = (1.0, 1.25, 2.0)
EXPERT = "static-cf-expert"

METHODS: dict[str, Method] = {
    **{f"static-cf-{a}": Method(f"static-cf-{a}", "padded", "static", a,
                                description=f"GShard/Switch padded dispatch, static capacity factor {a}")
       for a in STATIC_ALPHAS},
    EXPERT: Method(EXPERT, "padded", "static", None,
                   description="expert: the smallest static alpha in {1, 1.25, 2} dropping < 1% of assignments, "
                               "chosen by running the candidates inside the job"),
    "dynamic-cf": Method("dynamic-cf", "padded", "dynamic",
                         description="DynaMoE global alpha: shrink (<0.5a -> 1.3 score) / raise schedule, recompiled"),
    "local-cf": Method("local-cf", "padded", "local", alpha=1.3,
                       description="DynaMoE per-expert capacities = 1.3 x each expert's load EMA, recompiled; "
                                   "starts from the uniform-load prior (alpha 1.3)"),
    "cache": Method("cache", "padded", "dynamic", cache=True,
                    description="dynamic-cf + assignment caching (on > 0.95 match, off < 0.85; fixed data order)"),
    "tutel-cf0": Method("tutel-cf0", "tutel", "static", tutel_cf=0.0,
                        description="Tutel cf=0: capacity = this step's max expert load (dropless, padded), no recompile"),
    "dropless": Method("dropless", "dropless", "static",
                       description="dropless sort-and-segment: exact per-expert segments, no padding"),
    "peer-moe": Method("peer-moe", "peer", "static",
                       description="pure-torch `mixture-of-experts` package (GShard top-2, einsum dispatch), alpha=peer_alpha"),
}

BASELINES = (EXPERT, "static-cf-1.0", "static-cf-1.25", "static-cf-2.0")


def get_method(name: str) -> Method:
    """The method called ``name``; unknown names fail listing the valid ones."""
    if name not in METHODS:
        raise ValueError(f"unknown moe method {name!r}; valid: {', '.join(METHODS)}")
    return METHODS[name]
