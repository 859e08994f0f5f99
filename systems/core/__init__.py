"""Shared contracts: Job, JobResult, Method, Suite, SystemSpec, the registry, the config path, machine facts."""

from systems.core.config import ConfigError, apply_overrides, resolve_config, to_dict
from systems.core.env import (Timer, device, device_name, git_sha, hardware_description, median_time,
                              seed_everything, syslab_home, timed)
from systems.core.registry import SYSTEMS, UnknownSystemError, get_system
from systems.core.types import (SUITES, ComparisonSpec, Job, JobResult, Method, QualityGate, Suite, SuiteEntry,
                                SystemSpec, grid)

__all__ = ["SUITES", "SYSTEMS", "ComparisonSpec", "ConfigError", "Job", "JobResult", "Method", "QualityGate",
           "Suite", "SuiteEntry", "SystemSpec", "Timer", "UnknownSystemError", "apply_overrides", "device",
           "device_name", "get_system", "git_sha", "grid", "hardware_description", "median_time",
           "resolve_config", "seed_everything", "syslab_home", "timed", "to_dict"]
