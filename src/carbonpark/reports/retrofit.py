"""Retrofit and carbon-evaluation report (zh-CN / English, HTML and PDF) with the MACC chart.

Sections: the marginal abatement cost curve (bar width = annual abatement, height = cost per tonne,
ascending), the selected portfolio, the carbon evaluation with its conclusion in words, the admission
check, and the enterprise carbon-efficiency ratings with the industry structure and overcapacity warnings.

References
----------
Guide §7.4 (碳改造), §7.5 (碳评价), §3.2.2(1), §1.3.2; issue 13 item 6.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("svg")
import matplotlib.pyplot as plt

from carbonpark.errors import ValidationError
from carbonpark.reports.charts import figure_svg, svg_style
from carbonpark.reports.pdf import html_to_pdf

__all__ = ["macc_svg", "render_retrofit_html", "write_retrofit_report"]

_T: dict[str, dict[str, str]] = {
    "title": {"zh": "{year} 年园区碳改造与碳评价报告", "en": "Park carbon retrofit and carbon evaluation, {year}"},
    "macc": {"zh": "边际减排成本曲线(MACC)", "en": "Marginal abatement cost curve (MACC)"},
    "x": {"zh": "累计年减排量 tCO2e/年", "en": "Cumulative abatement tCO2e/yr"},
    "y": {"zh": "单位减排成本 元/tCO2e", "en": "Cost CNY/tCO2e"},
    "portfolio": {"zh": "选定项目组合", "en": "Selected portfolio"},
    "evaluation": {"zh": "碳评价结论", "en": "Carbon evaluation"},
    "admission": {"zh": "招商引资准入模拟核算", "en": "Admission check of a candidate"},
    "ratings": {"zh": "企业碳效评级", "en": "Enterprise carbon-efficiency ratings"},
    "industries": {"zh": "产业结构与产能利用", "en": "Industry structure and capacity utilisation"},
    "warnings": {"zh": "产能过剩预警", "en": "Overcapacity warnings"},
    "annualised": {
        "zh": "数据按 {k:g} 倍年化(所存数据不足 12 个月)。",
        "en": "Figures annualised × {k:g} (the stored data cover less than 12 months).",
    },
}


def _t(key: str, lang: str, **kw: Any) -> str:
    return _T[key][lang].format(**kw)


def macc_svg(entries: Sequence[Mapping[str, Any]], *, lang: str = "zh", selected: Sequence[str] = ()) -> str:
    """The MACC as an ``<svg>``: one bar per project, width = annual abatement, height = cost per tonne.

    Parameters
    ----------
    entries
        ``macc`` rows in ascending cost (``id``, ``cost_per_tco2e`` [CNY/tCO2e], ``annual_abatement_tco2e``).
    selected
        Project ids drawn in the portfolio colour (others grey).
    """
    with plt.rc_context(svg_style(8)):
        fig, ax = plt.subplots(figsize=(7.0, 3.2))
        left = 0.0
        for e in entries:
            width, height = float(e["annual_abatement_tco2e"]), float(e["cost_per_tco2e"])
            colour = "#2f7d5b" if e["id"] in selected else "#b0b0b0"
            ax.bar(left, height, width=width, align="edge", color=colour, edgecolor="white")
            ax.annotate(str(e["id"]), (left + width / 2, height), ha="center", va="bottom" if height >= 0 else "top")
            left += width
        ax.axhline(0, color="black", linewidth=0.6)
        ax.set_xlabel(_t("x", lang))
        ax.set_ylabel(_t("y", lang))
        ax.set_title(_t("macc", lang))
        ax.spines[["top", "right"]].set_visible(False)
        return figure_svg(fig)


def _n(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "✔" if value else "✘"
    try:
        return f"{float(value):,.{digits}f}"
    except (TypeError, ValueError):
        return escape(str(value))


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render_retrofit_html(bundle: Mapping[str, Any], lang: str = "zh") -> str:
    """The report page of a ``{plan, evaluation, admission, ratings}`` bundle (services/retrofit.py)."""
    if lang not in ("zh", "en"):
        raise ValidationError("lang", "zh or en", lang)
    plan, ev = bundle["plan"], bundle.get("evaluation")
    year = plan.get("year", "")
    zh = lang == "zh"
    parts = [
        f'<!DOCTYPE html><html lang="{"zh-CN" if zh else "en"}"><head><meta charset="utf-8">',
        f"<title>{escape(_t('title', lang, year=year))}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:2px 6px}</style></head><body>",
        f"<h1>{escape(_t('title', lang, year=year))}</h1>",
        macc_svg(plan["macc"], lang=lang, selected=plan["selected"]),
        f"<h2>{_t('portfolio', lang)}</h2>",
        _table(
            [
                "id",
                "名称" if zh else "name",
                "元/tCO2e" if zh else "CNY/tCO2e",
                "tCO2e/年" if zh else "tCO2e/yr",
                "投资 元" if zh else "capex CNY",
                "入选" if zh else "selected",
            ],
            [
                [
                    escape(e["id"]),
                    escape(str(e["name"])),
                    _n(e["cost_per_tco2e"]),
                    _n(e["annual_abatement_tco2e"]),
                    _n(e["capex"], 0),
                    _n(e["id"] in plan["selected"]),
                ]
                for e in plan["macc"]
            ],
        ),
        f"<p>{'合计' if zh else 'Total'}: {_n(plan['total_abatement_tco2e'])} tCO2e/{'年' if zh else 'yr'}, "
        f"{_n(plan['total_capex'], 0)} {'元' if zh else 'CNY'} ({escape(str(plan.get('objective', '')))})</p>",
    ]
    if ev is not None:
        parts.append(f"<h2>{_t('evaluation', lang)}</h2><p><b>{escape(ev['conclusion'][lang])}</b></p>")
        if ev.get("annualised_by", 1) != 1:
            parts.append(f"<p><small>{_t('annualised', lang, k=ev['annualised_by'])}</small></p>")
        parts.append(
            _table(
                [
                    "年份" if zh else "year",
                    "目标" if zh else "cap",
                    "预计" if zh else "projected",
                    "可达" if zh else "achievable",
                ],
                [
                    [str(a["year"]), _n(a["cap"], 3), _n(a["projected"], 3), _n(a["achievable"])]
                    for a in ev["achievability"]
                ],
            )
        )
        bench = ev["benchmarks"]
        parts.append(
            f"<p>{'园区单位增加值能耗' if zh else 'Park energy intensity'} "
            f"{_n(bench['park_energy_intensity_tce_per_10k_cny'], 3)} tce/万元; "
            f"{'全国' if zh else 'national'} {_n(bench['national_energy_intensity_tce_per_10k_cny'], 4)} "
            f"({escape(bench['national_source'])})</p>"
        )
    adm = bundle.get("admission")
    if adm is not None:
        parts.append(f"<h2>{_t('admission', lang)}</h2><p>{escape(adm['conclusion'])}</p>")
        parts.append(
            _table(
                [
                    "检查项" if zh else "check",
                    "上限" if zh else "limit",
                    "准入前" if zh else "before",
                    "准入后" if zh else "after",
                    "通过" if zh else "passed",
                ],
                [
                    [escape(c["name"]), _n(c["limit"], 3), _n(c["before"], 3), _n(c["after"], 3), _n(c["passed"])]
                    for c in adm["checks"]
                ],
            )
        )
    rat = bundle.get("ratings")
    if rat is not None:
        parts.append(f"<h2>{_t('ratings', lang)}</h2>")
        parts.append(
            _table(
                [
                    "名次" if zh else "rank",
                    "企业" if zh else "enterprise",
                    "行业" if zh else "industry",
                    "等级" if zh else "grade",
                    "t/万元",
                    "t/亩" if zh else "t/mu",
                    "理由" if zh else "reason",
                ],
                [
                    [
                        str(r["rank_in_park"]),
                        escape(r["name"]),
                        escape(r["industry"]),
                        str(r["grade"]),
                        _n(r["intensity_tco2e_per_10k_cny"], 3),
                        _n(r["emissions_per_mu_tco2e"], 1),
                        escape(r["reason"]),
                    ]
                    for r in rat["ratings"]
                ],
            )
        )
        parts.append(f"<h2>{_t('industries', lang)}</h2>")
        parts.append(
            _table(
                [
                    "行业" if zh else "industry",
                    "排放占比" if zh else "emission share",
                    "增加值占比" if zh else "value-added share",
                    "产能利用率" if zh else "utilisation",
                ],
                [
                    [
                        escape(i["industry"]),
                        f"{i['emission_share']:.1%}",
                        f"{i['value_added_share']:.1%}",
                        "—" if i["capacity_utilisation"] is None else f"{i['capacity_utilisation']:.0%}",
                    ]
                    for i in rat["industries"]
                ],
            )
        )
        if rat["warnings"]:
            parts.append(f"<h2>{_t('warnings', lang)}</h2><ul>")
            parts += [f"<li>{escape(w)}</li>" for w in rat["warnings"]]
            parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_retrofit_report(bundle: Mapping[str, Any], path: Path | str, *, lang: str = "zh", fmt: str = "html") -> Path:
    """Write the report as ``html`` or ``pdf``."""
    if fmt not in ("html", "pdf"):
        raise ValidationError("format", "html or pdf", fmt)
    html = render_retrofit_html(bundle, lang)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "pdf":
        return html_to_pdf(html, target)
    target.write_text(html, encoding="utf-8")
    return target
