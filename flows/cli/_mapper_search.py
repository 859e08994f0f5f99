"""``syslab mapper search`` / ``syslab mapper optimizers`` (filled in by the mapper-agent work).

:func:`register` is called by :mod:`flows.cli.mapper` to add the search commands to its sub-app.
"""

import typer


def register(app: typer.Typer) -> None:
    """Add the search commands to the mapper sub-app (none yet)."""
    return None
