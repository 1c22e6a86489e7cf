"""CLI commands of the dispatch capability."""

from __future__ import annotations

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the dispatch commands to ``app``."""
