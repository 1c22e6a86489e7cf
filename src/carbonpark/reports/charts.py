"""Charts for reports: matplotlib drawn to SVG text, to embed in HTML (and so in PDF).

Reusable by every capability: :func:`bar_svg` and :func:`line_svg` take plain labels and values;
a capability drawing its own figure uses :func:`svg_style` and :func:`figure_svg`.
The Agg-free SVG backend is used, text stays text (``svg.fonttype = none``) so a PDF made from the
HTML keeps it extractable, and Chinese labels use the Noto CJK fonts when installed.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("svg")
import matplotlib.pyplot as plt

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from matplotlib.typing import RcKeyType

__all__ = ["bar_svg", "figure_svg", "line_svg", "svg_style"]

_FONTS = ["Noto Sans CJK SC", "WenQuanYi Zen Hei", "DejaVu Sans"]


def svg_style(font_size: float = 9) -> dict[RcKeyType, Any]:
    """The rc parameters of report charts, for ``plt.rc_context``.

    Text stays text in the SVG (``svg.fonttype = none``); Chinese labels use the first installed
    font of Noto Sans CJK SC, WenQuanYi Zen Hei, DejaVu Sans; ``font_size`` is in points.
    """
    return {"svg.fonttype": "none", "font.family": "sans-serif", "font.sans-serif": _FONTS, "font.size": font_size}


def figure_svg(fig: Figure) -> str:
    """The ``<svg>`` element of a figure (tight bounding box); the figure is closed."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]


def bar_svg(labels: Sequence[str], values: Sequence[float], *, title: str, unit: str, width_in: float = 6.0) -> str:
    """A bar chart as an ``<svg>`` element (values annotated above the bars)."""
    with plt.rc_context(svg_style()):
        fig, ax = plt.subplots(figsize=(width_in, 2.8))
        bars = ax.bar(list(labels), list(values), color="#2f7d5b")
        ax.bar_label(bars, labels=[f"{v:,.1f}" for v in values], fontsize=7)
        ax.set_title(title)
        ax.set_ylabel(unit)
        ax.spines[["top", "right"]].set_visible(False)
        return figure_svg(fig)


def line_svg(labels: Sequence[str], values: Sequence[float], *, title: str, unit: str, width_in: float = 6.0) -> str:
    """A line chart with markers as an ``<svg>`` element."""
    with plt.rc_context(svg_style()):
        fig, ax = plt.subplots(figsize=(width_in, 2.8))
        ax.plot(list(labels), list(values), marker="o", color="#2f7d5b")
        ax.set_title(title)
        ax.set_ylabel(unit)
        ax.tick_params(axis="x", labelrotation=45)
        ax.spines[["top", "right"]].set_visible(False)
        return figure_svg(fig)
