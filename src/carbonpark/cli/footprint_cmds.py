"""CLI commands of the footprint capability."""

from __future__ import annotations

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the footprint commands to ``app``."""
