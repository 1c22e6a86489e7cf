"""CLI commands of the account capability."""

from __future__ import annotations

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the account commands to ``app``."""
