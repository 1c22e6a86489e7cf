"""The ``carbonpark`` command."""

from __future__ import annotations

from carbonpark.cli import (
    account_cmds,
    api_cmds,
    dispatch_cmds,
    evaluate_cmds,
    field_cmds,
    footprint_cmds,
    forecast_cmds,
    identifier_cmds,
    ingest_cmds,
    inventory_cmds,
    ledger_cmds,
    monitor_cmds,
    quality_cmds,
    registry_cmds,
    retrofit_cmds,
    targets_cmds,
    trading_cmds,
)
from carbonpark.cli.common import new_app

__all__ = ["app", "main"]

app = new_app("carbonpark: measure, account, forecast, optimise, trade and evaluate carbon in an industrial park.")


@app.callback()
def _root() -> None:
    """carbonpark: measure, account, forecast, optimise, trade and evaluate carbon in an industrial park."""


for module in (
    registry_cmds,
    api_cmds,
    account_cmds,
    evaluate_cmds,
    forecast_cmds,
    dispatch_cmds,
    trading_cmds,
    retrofit_cmds,
    targets_cmds,
    footprint_cmds,
    identifier_cmds,
    ledger_cmds,
    ingest_cmds,
    field_cmds,
    quality_cmds,
    monitor_cmds,
    inventory_cmds,
):
    module.register(app)


def main() -> None:
    """Entry point of the console script."""
    app()
