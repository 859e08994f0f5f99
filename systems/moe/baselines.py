"""Expert strategies: static capacity factors, and the expert's choice among them.

The platform compares against ``static-cf-expert``: what a practitioner does by hand — try the
static capacity factors alpha in {1, 1.25, 2} in increasing order and keep the smallest whose run
drops < 1 % of the token->expert assignments. The job runs the candidates itself (a candidate is
abandoned as soon as its lagged drop count exceeds 1 % of the run's assignments, which already
decides it) and reports the chosen run's metrics; the selection time is reported apart
(``expert_selection_s``), not charged to the expert's throughput. When even alpha = 2 drops >= 1 %,
alpha = 2 is kept and ``expert_meets_1pct`` is 0.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace

from systems.moe.config import RunConfig
from systems.moe.methods import STATIC_ALPHAS

DROP_LIMIT = 0.01


def run_expert(cfg: RunConfig, keep_state: bool = False):
    from systems.moe.train import abort_type, train

    total = cfg.layer.top_k * cfg.workload.batch_size * cfg.steps
    tried = []
    t0 = time.perf_counter()
    res = None
    for i, a in enumerate(STATIC_ALPHAS):
        last = i == len(STATIC_ALPHAS) - 1
        try:
            res = train(replace(cfg, method=f"static-cf-{a}"),
                        abort_drop_assignments=None if last else DROP_LIMIT * total, keep_state=keep_state)
        except abort_type() as exc:
            tried.append({"alpha": a, "aborted_at_step": int(str(exc)), "dropped_frac": ">= 0.01"})
            continue
        tried.append({"alpha": a, "dropped_frac": res.metrics["dropped_frac"]})
        if res.metrics["dropped_frac"] < DROP_LIMIT or last:
            chosen = a
            break
    sel = time.perf_counter() - t0 - res.metrics["train_s"]
    res.metrics["expert_alpha"] = chosen
    res.metrics["expert_meets_1pct"] = float(res.metrics["dropped_frac"] < DROP_LIMIT)
    res.metrics["expert_selection_s"] = sel
    res.params["method"] = "static-cf-expert"
    res.params["expert_alpha"] = chosen
    res.artifacts["expert_selection.json"] = json.dumps({"limit": DROP_LIMIT, "candidates": tried,
                                                          "chosen_alpha": chosen}, indent=2)
    return res
