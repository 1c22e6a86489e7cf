"""CLI commands of the retrofit capability."""

from __future__ import annotations

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the retrofit commands to ``app``."""
