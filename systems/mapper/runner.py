"""The mapper system's job runner (``SystemSpec.runner``): the expert baseline or an optimizer search.

Layering (nothing imports upward): ``runner`` -> ``baselines`` / ``search`` -> ``evaluate`` -> ``apps``,
``dsl``, ``sim``, ``machine``.
"""

from __future__ import annotations

from systems.core import Job, JobResult
from systems.mapper.baselines import run_expert
from systems.mapper.config import MapperConfig
from systems.mapper.search import run_search_job


def run(job: Job, cfg: MapperConfig) -> JobResult:
    """One (benchmark, method, seed) job: the expert mapper when ``cfg.optimizer`` is None, else a search."""
    if cfg.optimizer is None:
        return run_expert(job, cfg)
    return run_search_job(job, cfg)
