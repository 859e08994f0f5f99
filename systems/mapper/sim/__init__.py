"""The runtime simulator: deterministic list scheduling of an app's task graph under a mapper."""

from systems.mapper.sim.policy import Policy
from systems.mapper.sim.simulator import SimResult, SimRuntimeError, lower_bound, simulate

__all__ = ["Policy", "SimResult", "SimRuntimeError", "lower_bound", "simulate"]
