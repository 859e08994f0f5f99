"""The mapping DSL: the real grammar (``grammar.lark``), its LALR parser, and the compiler/runtime."""

from systems.mapper.dsl.compiler import (Mapper, Point, ProcSet, Program, TaskView, compile_mapper)
from systems.mapper.dsl.errors import COMPILE_KINDS, MapperCompileError, MapperError, MappingError
from systems.mapper.dsl.mspace import MSpace, auto_factors, balanced_factors, greedy_factors
from systems.mapper.dsl.parser import DIALECTS, GRAMMAR_FILE, check_syntax

__all__ = ["COMPILE_KINDS", "DIALECTS", "GRAMMAR_FILE", "MSpace", "Mapper", "MapperCompileError", "MapperError",
           "MappingError", "Point", "ProcSet", "Program", "TaskView", "auto_factors", "balanced_factors",
           "check_syntax", "compile_mapper", "greedy_factors"]
