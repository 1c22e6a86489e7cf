"""CLI commands of the evaluate capability."""

from __future__ import annotations

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the evaluate commands to ``app``."""
