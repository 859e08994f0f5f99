"""syslab systems: the science. Pure Python + torch; no orchestration imports here.

Each subpackage (``systems.hag``, ``systems.mapper``, ...) exposes a module attribute
``SPEC: systems.core.SystemSpec``; :mod:`systems.core.registry` discovers them.
"""
