"""CLI commands of the trading capability."""

from __future__ import annotations

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the trading commands to ``app``."""
