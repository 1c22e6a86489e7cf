"""Charts of a dispatch: stacked dispatch per carrier, state of charge, prices (SVG or PNG).

Drawn with matplotlib (no browser, no CDN): one file per chart.

* ``dispatch-<carrier>.<fmt>``: what supplies the carrier stacked above zero (grid
  import, PV, discharge, CHP …), what draws from it stacked below zero (export, charge,
  heat pumps …), and the fixed load as a line [kW];
* ``soc.<fmt>``: stored energy of every battery and thermal store [kWh];
* ``prices.<fmt>``: import and export prices of the grid and the gas price [CNY/kWh].

Labels are in Chinese (``lang="zh"``, the default, with a CJK font when one is
installed) or English.

References
----------
Issue 10 item 4 (charts: stacked dispatch, state of charge, prices); the guide §4.6.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from carbonpark.dispatch.scenario import GasAsset, GridAsset, Scenario
from carbonpark.errors import ValidationError

if TYPE_CHECKING:
    from carbonpark.dispatch.solve import DispatchResult

__all__ = ["CHART_FORMATS", "write_charts"]

CHART_FORMATS = ("svg", "png")

_TEXT = {
    "zh": {
        "electricity": "电力",
        "heat": "热力",
        "cooling": "冷量",
        "gas": "燃气",
        "dispatch": "{carrier}调度（上：供给，下：消耗）",
        "load": "负荷",
        "power": "功率 [kW]",
        "soc": "储能荷电状态",
        "energy": "储存能量 [kWh]",
        "prices": "价格",
        "price": "价格 [元/kWh]",
        "import": "{name} 购电价",
        "export": "{name} 上网电价",
        "gas_price": "{name} 燃气价",
        "step": "时段",
    },
    "en": {
        "electricity": "electricity",
        "heat": "heat",
        "cooling": "cooling",
        "gas": "gas",
        "dispatch": "Dispatch of {carrier} (above: supply, below: use)",
        "load": "load",
        "power": "power [kW]",
        "soc": "State of charge",
        "energy": "stored energy [kWh]",
        "prices": "Prices",
        "price": "price [CNY/kWh]",
        "import": "{name} import",
        "export": "{name} export",
        "gas_price": "{name} gas",
        "step": "step",
    },
}


def _pyplot(lang: str) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.font_manager as fm
    import matplotlib.pyplot as plt

    if lang == "zh":
        cjk = [f.name for f in fm.fontManager.ttflist if "CJK SC" in f.name or "WenQuanYi" in f.name]
        if cjk:
            plt.rcParams["font.family"] = [cjk[0], "DejaVu Sans"]
    plt.rcParams["svg.hashsalt"] = "carbonpark"  # reproducible SVG ids
    plt.rcParams["axes.unicode_minus"] = False
    return plt


def write_charts(
    result: DispatchResult, scenario: Scenario, out: Path, fmt: str = "svg", lang: str = "zh"
) -> list[Path]:
    """Write the charts of ``result`` into the folder ``out``; return the files written."""
    if fmt not in CHART_FORMATS:
        raise ValidationError("chart format", f"one of {CHART_FORMATS}", fmt)
    if lang not in _TEXT:
        raise ValidationError("lang", f"one of {sorted(_TEXT)}", lang)
    text = _TEXT[lang]
    plt = _pyplot(lang)
    out.mkdir(parents=True, exist_ok=True)
    steps = np.arange(scenario.horizon.steps)
    written: list[Path] = []

    def save(fig: Any, name: str) -> None:
        path = out / f"{name}.{fmt}"
        fig.tight_layout()
        fig.savefig(path, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
        plt.close(fig)
        written.append(path)

    carriers = sorted({term.carrier for term in result.bus_terms})
    for carrier in carriers:
        fig, ax = plt.subplots(figsize=(10, 4))
        above = np.zeros(len(steps))
        below = np.zeros(len(steps))
        for term in result.bus_terms:
            if term.carrier != carrier:
                continue
            flow = term.sign * np.asarray(result.schedule[term.asset][term.quantity], dtype=float)
            if not np.any(np.abs(flow) > 1e-9):
                continue
            base = above if term.sign > 0 else below
            ax.fill_between(steps, base, base + flow, step="post", label=f"{term.asset} {term.quantity}", alpha=0.8)
            base += flow
        load = scenario.load(carrier)
        if np.any(load):
            ax.step(steps, load, where="post", color="black", linewidth=1.2, label=text["load"])
        ax.axhline(0, color="grey", linewidth=0.6)
        ax.set_title(text["dispatch"].format(carrier=text.get(carrier, carrier)))
        ax.set_xlabel(text["step"])
        ax.set_ylabel(text["power"])
        ax.legend(loc="upper left", fontsize=7, ncol=3)
        save(fig, f"dispatch-{carrier}")

    stores = [(asset, q["soc_kwh"]) for asset, q in result.schedule.items() if "soc_kwh" in q]
    if stores:
        fig, ax = plt.subplots(figsize=(10, 3))
        for asset, soc in stores:
            ax.step(steps, np.asarray(soc, dtype=float), where="post", label=asset)
        ax.set_title(text["soc"])
        ax.set_xlabel(text["step"])
        ax.set_ylabel(text["energy"])
        ax.legend(fontsize=7)
        save(fig, "soc")

    fig, ax = plt.subplots(figsize=(10, 3))
    drawn = False
    for config in scenario.assets:
        if isinstance(config, GridAsset):
            ax.step(
                steps, scenario.series(config.import_price), where="post", label=text["import"].format(name=config.name)
            )
            ax.step(
                steps, scenario.series(config.export_price), where="post", label=text["export"].format(name=config.name)
            )
            drawn = True
        elif isinstance(config, GasAsset):
            ax.step(
                steps,
                scenario.series(config.price_per_kwh),
                where="post",
                label=text["gas_price"].format(name=config.name),
            )
            drawn = True
    if drawn:
        ax.set_title(text["prices"])
        ax.set_xlabel(text["step"])
        ax.set_ylabel(text["price"])
        ax.legend(fontsize=7)
        save(fig, "prices")
    else:
        plt.close(fig)
    return written
