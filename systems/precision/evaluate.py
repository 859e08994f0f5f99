"""``run(job, cfg) -> JobResult``: train one workload under one method's assignment.

The headline metric is the paper's: ``low_share``, the share of tensor elements held in low
precision computed from bits as the authors' code logs it (weight gradients stay 16-bit and count 0),
after promotions. Memory metrics come from the analytic memory model; ``memory_mb`` is that of the
assignment at the *end* of training, i.e. after promotions (promotion only raises precision, so this
is the largest memory the run needed).

r-window: a pi_ours(r) job (and its ablations) whose chosen groups hold an element share outside
``[r, r + 0.1]`` is not trained, as the authors' scripts skip it: it reports ``skipped = 1`` with its
planned shares and memory and no accuracy.
"""

from __future__ import annotations

import json

import torch

from systems.core import Job, JobResult, device, hardware_description
from systems.precision.config import TrainConfig
from systems.precision.data import load
from systems.precision.planner import DATASET_SHAPES, Plan, build_assignment, uses_promotion
from systems.precision.graph import trace
from systems.precision.models import build_model
from systems.precision.search import R_WINDOW, in_r_window
from systems.precision.train import train

def run(job: Job, cfg: TrainConfig) -> JobResult:
    """Train and measure one (workload, method, r, seed).

    Runs with ``cfg.threads`` torch threads (default 1: these small models are dominated by per-op
    overhead and a shared CPU is oversubscribed by more); restored after.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, cfg.threads))
    try:
        return _run(job, cfg)
    finally:
        torch.set_num_threads(before)


def _run(job: Job, cfg: TrainConfig) -> JobResult:
    torch.manual_seed(cfg.seed)
    dev = device() if job.wants_gpu else "cpu"  # jobs that want a GPU use one when present
    data = load(cfg.dataset, cfg.image_size, cfg.train_size, cfg.test_size)
    scale = cfg.input_scale
    data = tuple(t.to(dev) for t in (data[0] * scale, data[1], data[2] * scale, data[3]))
    c, h, w = data[0].shape[1:]
    num_classes = int(max(int(data[1].max()), int(data[3].max())) + 1)
    model = build_model(cfg.model, in_ch=c, num_classes=max(num_classes, 2), width=cfg.width)
    graph = trace(model, (c, h, w), cfg.batch_size)
    model.to(dev)
    r = cfg.r
    assignment = build_assignment(job.method, graph, r, cfg.order_seed)
    plan = Plan(assignment, graph, cfg.model, r)
    planned_mb, planned_share = assignment.memory_mb(), assignment.low_share()
    achieved = assignment.low_elements_share()
    planned_table = plan.table()
    fp32_mb, op_mb = plan.fp32_mb(), plan.pi_op_mb()
    lo_mb = build_assignment("unif-lo", graph).memory_mb()
    common = {"memory_mb_planned": planned_mb, "low_share_planned": planned_share, "achieved_share": achieved,
              "memory_cap_op": op_mb / lo_mb, "pi_op_low_share": build_assignment("pi-op", graph).low_share()}
    if r is not None:
        common["r"] = float(r)
    params = {"dataset": cfg.dataset, "model": cfg.model, "width": cfg.width, "image_size": cfg.image_size or
              DATASET_SHAPES[cfg.dataset][1], "epochs": cfg.epochs, "batch_size": cfg.batch_size, "lr": cfg.lr,
              "theta": cfg.theta if uses_promotion(job.method) else None, "input_scale": scale,
              "groups": len(graph.groups), "tensors": len(graph.tensors), "device": dev, "train_size": len(data[0]),
              "test_size": len(data[2]), "rounding": cfg.rounding, "classes": num_classes}
    if r is not None and job.method.startswith("ours") and not in_r_window(float(r), achieved):
        metrics = {"memory_mb": planned_mb, "low_share": planned_share, "skipped": 1.0,
                   "memory_ratio_fp32": planned_mb / fp32_mb, "memory_ratio_op": planned_mb / op_mb, **common}
        note = (f"skipped by the r-window: the chosen groups hold {achieved:.3f} of the elements, outside "
                f"[{r:g}, {r + R_WINDOW:g}] (the authors' scripts skip such runs)\n\n{plan.summary()}\n\n{planned_table}\n")
        return JobResult(system=job.system, workload=job.workload, method=job.method, seed=job.seed, suite=job.suite,
                         metrics=metrics, params=params, artifacts={"assignment.md": note,
                                                                    "assignment.json": plan.to_json()},
                         hardware=hardware_description(), job_params=dict(job.params))
    res = train(model, assignment, data, cfg, promotion=uses_promotion(job.method), num_classes=num_classes)
    mb = assignment.memory_mb()
    metrics = {
        "memory_mb": mb, "memory_ratio_fp32": mb / fp32_mb, "memory_ratio_op": mb / op_mb,
        "low_share": assignment.low_share(), "skipped": 0.0, **common,
        "accuracy": res.accuracy, "final_loss": res.final_loss, "diverged": float(res.diverged),
        "converged": float(res.converged), "promotions": float(res.promotions),
        "skipped_steps": float(res.skipped_steps), "step_s": res.step_s, "steps": float(res.steps),
    }
    series = {"loss_per_step": res.loss_per_step, "loss_per_epoch": res.loss_per_epoch,
              "accuracy_per_epoch": res.accuracy_per_epoch, "max_overflow_per_epoch": res.max_overflow_per_epoch}
    if res.loss_scale_per_epoch:
        series["loss_scale_per_epoch"] = res.loss_scale_per_epoch
    artifacts = {
        "assignment.md": f"{plan.summary()}\n\nPlanned (before promotion):\n\n{planned_table}\n\n"
                         f"After training ({res.promotions} promotions):\n\n{plan.table()}\n",
        "assignment.json": plan.to_json(),
    }
    params.update({"promoted": json.dumps(res.promoted[:20]), "backend": res.backend})
    return JobResult(system=job.system, workload=job.workload, method=job.method, seed=job.seed, suite=job.suite,
                     metrics=metrics, params=params, series=series, artifacts=artifacts,
                     hardware=hardware_description(), job_params=dict(job.params))
