"""Expert mappers, one DSL file per benchmark (package data)."""

from __future__ import annotations

from pathlib import Path

EXPERT_DIR = Path(__file__).resolve().parent


def expert_mapper(app: str) -> str:
    """The expert mapper text of benchmark ``app``."""
    path = EXPERT_DIR / f"{app}.dsl"
    if not path.is_file():
        known = sorted(p.stem for p in EXPERT_DIR.glob("*.dsl"))
        raise ValueError(f"no expert mapper for app {app!r}; known: {', '.join(known)}")
    return path.read_text()
