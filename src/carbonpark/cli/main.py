"""The ``carbonpark`` command."""

from __future__ import annotations

from carbonpark.cli import registry_cmds
from carbonpark.cli.common import new_app

__all__ = ["app", "main"]

app = new_app("carbonpark: measure, account, forecast, optimise, trade and evaluate carbon in an industrial park.")

for module in (registry_cmds,):
    module.register(app)


def main() -> None:
    """Entry point of the console script."""
    app()
