"""CLI commands of the forecast capability."""

from __future__ import annotations

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the forecast commands to ``app``."""
