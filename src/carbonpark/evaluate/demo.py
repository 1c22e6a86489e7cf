"""Illustrative entered values of the demo park for the indicators the platform cannot compute.

The packaged file ``data/demo-park-entered-values.csv`` is carbonpark's invention for the demo park (no real
park's data); together with the platform-computed indicators (:mod:`carbonpark.evaluate.platform`) it gives the
demo park a complete evaluation.
"""

from __future__ import annotations

from importlib import resources

from carbonpark.evaluate.scoring import IndicatorInput, read_values_csv

__all__ = ["DEMO_VALUES_FILE", "demo_entered_values"]

DEMO_VALUES_FILE = "demo-park-entered-values.csv"


def demo_entered_values() -> list[IndicatorInput]:
    """The demo park's entered (non-platform) indicator values, each with its evidence note."""
    text = resources.files("carbonpark.evaluate").joinpath("data", DEMO_VALUES_FILE).read_text(encoding="utf-8")
    return read_values_csv(text)
