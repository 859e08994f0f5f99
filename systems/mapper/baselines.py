"""The expert baseline: hand-written DSL mappers (see ``systems/mapper/experts/*.dsl``)."""

from systems.mapper.experts import expert_mapper

EXPERT_METHOD = "expert"
"""Method name of the expert baseline."""

__all__ = ["EXPERT_METHOD", "expert_mapper"]
