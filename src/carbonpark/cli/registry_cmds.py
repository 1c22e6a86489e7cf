"""Registry commands: demo, db upgrade, status, meters (filled in by the foundation work)."""

from __future__ import annotations

import typer

from carbonpark import __version__

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the registry commands to ``app``."""

    @app.command()
    def version() -> None:
        """Print the carbonpark version."""
        typer.echo(__version__)
