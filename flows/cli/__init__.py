"""The ``syslab`` command line.

Platform commands live in :mod:`flows.cli.main`; each system adds its own sub-app as
``flows/cli/<system>.py`` exposing ``app: typer.Typer`` (e.g. ``syslab hag search ...``).
Sub-apps are discovered, so a system's CLI file is the only file it touches here.
"""

from flows.cli.main import app, main

__all__ = ["app", "main"]
