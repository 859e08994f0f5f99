"""Shared contracts: Job, JobResult, SystemSpec, the registry, machine facts, the comparison."""

from systems.core.env import (Timer, device, device_name, git_sha, hardware_description, median_time,
                              seed_everything, syslab_home, timed)
from systems.core.registry import SYSTEMS, UnknownSystemError, get_system
from systems.core.types import SUITES, Job, JobResult, QualityGate, SystemSpec

__all__ = ["SUITES", "SYSTEMS", "Job", "JobResult", "QualityGate", "SystemSpec", "Timer",
           "UnknownSystemError", "device", "device_name", "get_system", "git_sha",
           "hardware_description", "median_time", "seed_everything", "syslab_home", "timed"]
