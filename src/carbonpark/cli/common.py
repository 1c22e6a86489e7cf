"""What every CLI command shares: JSON output, errors on standard error, progress bars.

With ``--json`` a command prints exactly one JSON document on standard output;
progress, warnings and logs go to standard error. A :class:`CarbonparkError` exits 1
with its message on standard error; wrong usage exits 2 (Click's convention).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from typer.core import TyperGroup

from carbonpark.errors import CarbonparkError

__all__ = ["CarbonparkGroup", "emit_json", "err_console", "new_app", "progress", "to_jsonable"]

err_console = Console(stderr=True)


class CarbonparkGroup(TyperGroup):
    """A command group that turns carbonpark errors into exit status 1 and a message on stderr."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except CarbonparkError as exc:
            err_console.print(f"[red]error:[/red] {exc}", markup=True, highlight=False, soft_wrap=True)
            raise typer.Exit(1) from exc
        except OSError as exc:
            err_console.print(f"[red]error:[/red] {exc}", markup=True, highlight=False, soft_wrap=True)
            raise typer.Exit(1) from exc


def new_app(help_text: str) -> typer.Typer:
    """A Typer app or sub-app with carbonpark's error handling."""
    return typer.Typer(
        help=help_text,
        cls=CarbonparkGroup,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )


def to_jsonable(value: Any) -> Any:
    """Turn numpy, Decimal, datetime and Path values into plain JSON values (NaN becomes null)."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):  # numpy scalar
        return to_jsonable(value.item())
    if hasattr(value, "tolist"):  # numpy array
        return to_jsonable(value.tolist())
    return str(value)


def emit_json(doc: Any) -> None:
    """Print exactly one JSON document on standard output."""
    sys.stdout.write(json.dumps(to_jsonable(doc), ensure_ascii=False, indent=2))
    sys.stdout.write("\n")
    sys.stdout.flush()


@contextmanager
def progress(quiet: bool = False) -> Iterator[Progress]:
    """A Rich progress display on standard error (hidden when ``quiet``)."""
    bar = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err_console,
        disable=quiet,
        transient=False,
    )
    with bar:
        yield bar
