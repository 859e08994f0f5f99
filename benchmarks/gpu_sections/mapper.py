"""GPU section of the mapper system: it is simulated, so it records the simulator's evaluation rate
(compile + load + simulate one expert mapper) per benchmark on the device machine's CPU, and checks that
the simulated times are the same there as anywhere (the simulator is deterministic).

The mapper system uses no GPU kernels; this section only uses the CPU of the GPU machine.
"""

from __future__ import annotations

import time

TITLE = "Mapper: simulator evaluation rate on the GPU machine's CPU (the mapper system is simulated)"
BUDGET_S = 60

TINY = {"circuit": {"loops": 1}, "stencil": {"tsteps": 1}, "pennant": {"cycles": 1}}
"""Toy sizes for the CPU dry run (matmuls: n = 4096)."""


def run(ctx) -> None:
    from systems.mapper.apps import get_app
    from systems.mapper.evaluate import evaluate_mapper
    from systems.mapper.experts import expert_mapper
    from systems.mapper.workloads import ALL_APPS

    ctx.note("No GPU work: the mapper system scores mappers on a deterministic simulator. The rows are measured "
             "evaluations per CPU-second of one process on this machine's CPU; simulated times are in "
             "docs/results/mapper-sim.md.")
    rows = []
    per_app = max(0.2, (ctx.time_left() - 5) / (2 * len(ALL_APPS))) if not ctx.tiny else 0.05
    for app in ALL_APPS:
        if ctx.time_left() < 3:
            ctx.note(f"stopped before {app}: section budget spent")
            break
        sizes = (TINY.get(app, {"n": 4096}) if ctx.tiny else {})
        text = expert_mapper(app)
        first = evaluate_mapper(text, app, **sizes)
        n, c0, t0 = 0, time.process_time(), time.perf_counter()
        while n < 2 or time.process_time() - c0 < per_app:
            again = evaluate_mapper(text, app, **sizes)
            n += 1
        cpu, wall = time.process_time() - c0, time.perf_counter() - t0
        ctx.check(f"{app}: expert evaluates ok", first.ok, first.message[:200])
        ctx.check(f"{app}: deterministic", first.ok and again.time_s == first.time_s)
        rows.append([app, first.machine, len(get_app(app, None, **sizes).instances), n, round(n / cpu, 1),
                     round(n / wall, 1), f"{first.time_s * 1e3:.4g}" if first.ok else first.status])
    ctx.table("Evaluations per second (expert mapper" + (", toy sizes" if ctx.tiny else ", default sizes") + ")",
              ["benchmark", "simulated machine", "task instances", "evaluations", "evals / CPU s", "evals / wall s",
               "simulated time (ms)"], rows)
