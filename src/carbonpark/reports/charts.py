"""Charts for reports: matplotlib drawn to SVG text, to embed in HTML (and so in PDF).

Reusable by every capability: :func:`bar_svg` and :func:`line_svg` take plain labels and values.
The Agg-free SVG backend is used, text stays text (``svg.fonttype = none``) so a PDF made from the
HTML keeps it extractable, and Chinese labels use the Noto CJK fonts when installed.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("svg")
import matplotlib.pyplot as plt

__all__ = ["bar_svg", "line_svg"]

_FONTS = ["Noto Sans CJK SC", "WenQuanYi Zen Hei", "DejaVu Sans"]


def _style() -> dict[str, object]:
    return {"svg.fonttype": "none", "font.family": "sans-serif", "font.sans-serif": _FONTS, "font.size": 9}


def _svg(fig: object) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")  # type: ignore[attr-defined]
    plt.close(fig)  # type: ignore[arg-type]
    text = buf.getvalue()
    return text[text.index("<svg") :]


def bar_svg(labels: Sequence[str], values: Sequence[float], *, title: str, unit: str, width_in: float = 6.0) -> str:
    """A bar chart as an ``<svg>`` element (values annotated above the bars)."""
    with plt.rc_context(_style()):
        fig, ax = plt.subplots(figsize=(width_in, 2.8))
        bars = ax.bar(list(labels), list(values), color="#2f7d5b")
        ax.bar_label(bars, labels=[f"{v:,.1f}" for v in values], fontsize=7)
        ax.set_title(title)
        ax.set_ylabel(unit)
        ax.spines[["top", "right"]].set_visible(False)
        return _svg(fig)


def line_svg(labels: Sequence[str], values: Sequence[float], *, title: str, unit: str, width_in: float = 6.0) -> str:
    """A line chart with markers as an ``<svg>`` element."""
    with plt.rc_context(_style()):
        fig, ax = plt.subplots(figsize=(width_in, 2.8))
        ax.plot(list(labels), list(values), marker="o", color="#2f7d5b")
        ax.set_title(title)
        ax.set_ylabel(unit)
        ax.tick_params(axis="x", labelrotation=45)
        ax.spines[["top", "right"]].set_visible(False)
        return _svg(fig)
