"""``run(job, cfg) -> JobResult``: train one workload under one method's assignment.

Memory metrics come from the analytic memory model (no training needed); the memory reported
as ``memory_mb`` is that of the assignment at the *end* of training, i.e. after promotions
(promotion only raises precision, so this is the largest memory the run needed).
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
    model = build_model(cfg.model, in_ch=c, num_classes=10, width=cfg.width)
    graph = trace(model, (c, h, w), cfg.batch_size)
    model.to(dev)
    r = cfg.r
    assignment = build_assignment(job.method, graph, r, cfg.order_seed)
    plan = Plan(assignment, graph, cfg.model, r)
    planned_mb, planned_share = assignment.memory_mb(), assignment.low_share()
    planned_table = plan.table()
    res = train(model, assignment, data, cfg, promotion=uses_promotion(job.method))
    fp32_mb, op_mb, mb = plan.fp32_mb(), plan.pi_op_mb(), assignment.memory_mb()
    metrics = {
        "memory_mb": mb, "memory_ratio_fp32": mb / fp32_mb, "memory_ratio_op": mb / op_mb,
        "memory_mb_planned": planned_mb, "low_share": assignment.low_share(), "low_share_planned": planned_share,
        "accuracy": res.accuracy, "final_loss": res.final_loss, "diverged": float(res.diverged),
        "promotions": float(res.promotions), "skipped_steps": float(res.skipped_steps), "step_s": res.step_s,
        "steps": float(res.steps),
    }
    if r is not None:
        metrics["r"] = float(r)
    series = {"loss_per_step": res.loss_per_step, "loss_per_epoch": res.loss_per_epoch,
              "accuracy_per_epoch": res.accuracy_per_epoch, "max_overflow_per_epoch": res.max_overflow_per_epoch}
    if res.loss_scale_per_epoch:
        series["loss_scale_per_epoch"] = res.loss_scale_per_epoch
    artifacts = {
        "assignment.md": f"{plan.summary()}\n\nPlanned (before promotion):\n\n{planned_table}\n\n"
                         f"After training ({res.promotions} promotions):\n\n{plan.table()}\n",
        "assignment.json": plan.to_json(),
    }
    params = {"dataset": cfg.dataset, "model": cfg.model, "width": cfg.width, "image_size": cfg.image_size or
              DATASET_SHAPES[cfg.dataset][1], "epochs": cfg.epochs, "batch_size": cfg.batch_size, "lr": cfg.lr,
              "theta": cfg.theta if uses_promotion(job.method) else None, "input_scale": scale, "groups": len(graph.groups),
              "tensors": len(graph.tensors), "device": dev, "train_size": len(data[0]), "test_size": len(data[2]),
              "promoted": json.dumps(res.promoted[:20])}
    return JobResult(system=job.system, workload=job.workload, method=job.method, seed=job.seed, suite=job.suite,
                     metrics=metrics, params=params, series=series, artifacts=artifacts,
                     hardware=hardware_description(), job_params=dict(job.params))
