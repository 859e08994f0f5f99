"""The mapping DSL: a lark grammar, a compiler to closures, machine spaces and located errors."""

from systems.mapper.dsl.compiler import (Mapper, ParentView, ProcSet, TaskView, compile_mapper)
from systems.mapper.dsl.errors import COMPILE_KINDS, MapperCompileError, MapperError, MappingError
from systems.mapper.dsl.mspace import MSpace, auto_factors, balanced_factors

__all__ = ["COMPILE_KINDS", "MSpace", "Mapper", "MapperCompileError", "MapperError", "MappingError",
           "ParentView", "ProcSet", "TaskView", "auto_factors", "balanced_factors", "compile_mapper"]
