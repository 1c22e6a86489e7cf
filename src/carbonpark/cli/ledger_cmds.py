"""CLI commands of the ledger capability."""

from __future__ import annotations

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ledger commands to ``app``."""
