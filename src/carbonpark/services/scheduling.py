"""Run a check again and again: the loop behind ``quality check --every`` and ``alarms check --every``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from carbonpark.errors import ValidationError

__all__ = ["run_every"]


def run_every(
    step: Callable[[], dict[str, Any]],
    *,
    every_s: float,
    cycles: int | None = None,
    on_run: Callable[[dict[str, Any]], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Call ``step`` every ``every_s`` seconds [s]; pass each result to ``on_run``; return the number of runs.

    Stops after ``cycles`` runs (never sleeping after the last), or on KeyboardInterrupt.
    """
    if every_s <= 0:
        raise ValidationError("--every", "a positive number of seconds", every_s)
    runs = 0
    try:
        while cycles is None or runs < cycles:
            doc = step()
            runs += 1
            if on_run:
                on_run(doc)
            if cycles is not None and runs >= cycles:
                break
            sleep(every_s)
    except KeyboardInterrupt:
        pass
    return runs
