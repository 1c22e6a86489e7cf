"""The GHG inventory report: ISO 14064-1:2018 content and the MEE enterprise report layout, zh-CN and English.

:func:`render_html` fills ``templates/inventory.html.j2`` from an inventory *detail* document (what
``carbonpark.services.inventory.build`` returns and a stored version keeps), with charts by category,
gas and month (:mod:`carbonpark.reports.charts`). Every required content item of ISO 14064-1:2018
clause 9.3.1 (``data/iso14064-1-content-items.yaml``) is a section marked ``data-iso-item``. The
Chinese report orders its first sections as the MEE enterprise report (基本情况, 排放量, 活动数据及来源,
排放因子及来源; GB/T 32150-2015 clause 8). :func:`write_pdf` goes through :mod:`carbonpark.reports.pdf`;
:func:`write_xlsx` writes the inventory workbook (openpyxl).

References
----------
ISO 14064-1:2018 clause 9.3.1 (REFERENCE_DATA §6b); GB/T 32150-2015 clause 8; the guide §7.1 step 八
(制作符合 ISO14064-1 标准的盘查报告书).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any, ClassVar

import yaml
from jinja2 import Environment, PackageLoader, select_autoescape

from carbonpark.errors import ValidationError
from carbonpark.reports.charts import bar_svg, line_svg
from carbonpark.reports.pdf import html_to_pdf

__all__ = ["content_items", "render_html", "write_pdf", "write_report", "write_xlsx"]

CATEGORIES = ("1", "2", "3", "4", "5", "6")
GASES = ("CO2", "CH4", "N2O", "HFCs", "PFCs", "SF6", "NF3")
CATEGORY_NAMES = {
    "zh": {
        "1": "直接温室气体排放和清除",
        "2": "输入能源的间接排放",
        "3": "运输产生的间接排放",
        "4": "组织使用的产品产生的间接排放",
        "5": "与使用组织产品有关的间接排放",
        "6": "其他来源的间接排放",
    },
    "en": {
        "1": "Direct GHG emissions and removals",
        "2": "Indirect emissions from imported energy",
        "3": "Indirect emissions from transportation",
        "4": "Indirect emissions from products used by the organization",
        "5": "Indirect emissions associated with the use of products from the organization",
        "6": "Indirect emissions from other sources",
    },
}
APPROACH_NAMES = {
    "zh": {"operational_control": "运营控制权法", "financial_control": "财务控制权法", "equity_share": "股权比例法"},
    "en": {
        "operational_control": "operational control",
        "financial_control": "financial control",
        "equity_share": "equity share",
    },
}
TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "title": "温室气体排放报告（盘查报告）",
        "subtitle": "按 ISO 14064-1:2018 第 9.3.1 条与生态环境部企业温室气体排放报告格式编制；由 carbonpark 生成。",
        "s_org": "一、报告主体基本信息",
        "org": "报告主体",
        "credit_code": "统一社会信用代码",
        "industry": "行业代码 · 核算指南",
        "park": "所在园区",
        "responsible": "负责人",
        "period": "报告期",
        "version": "清单版本",
        "s_boundary": "二、盘查边界",
        "approach": "组织边界方法",
        "entity": "实体",
        "share": "纳入比例",
        "controlled": "是否控制",
        "yes": "是",
        "no": "否",
        "reporting_boundary": "运营（报告）边界",
        "included": "纳入类别",
        "significance": "重要性准则",
        "category": "类别",
        "excluded_reason": "排除理由",
        "excluded_estimate": "排除部分估算 tCO2e",
        "not_selected": "未纳入运营边界",
        "s_emissions": "三、温室气体排放量（按排放源类别）",
        "u95": "95% 不确定度",
        "total": "合计",
        "indirect_note": "间接排放按类别 2-6 分列；生物质 CO2 与清除量单列，不计入合计。",
        "direct_by_gas": "直接排放（类别 1）按气体 tCO2e",
        "removals": "温室气体清除量",
        "biogenic": "生物质燃烧产生的 CO2",
        "biogenic_note": "单独报告，不计入排放合计（ISO 14064-1 附录 D）。",
        "by_source": "按排放源",
        "source": "排放源",
        "activity": "活动",
        "gas": "气体",
        "s_activity": "四、活动数据及来源",
        "amount": "活动数据",
        "unit": "单位",
        "data_source": "来源",
        "metered_data": "计量器具读数汇总（平台存证）",
        "s_methods": "五、量化方法",
        "methods_text": "采用排放因子法与物料平衡法，公式 E = AD × EF × GWP（指南 §4.2 公式 (1)(2)）。所用方法：",
        "method_change": "与上期相比方法变化",
        "s_factors": "六、排放因子数据及来源",
        "factor": "因子",
        "value": "数值",
        "source_doc": "来源",
        "gwp": "全球增温潜势（GWP）",
        "gwp_source": "IPCC 评估报告，100 年",
        "factor_set": "因子集",
        "s_base_year": "七、基准年与重新计算",
        "base_year": "基准年",
        "threshold": "重新计算阈值",
        "recalc": "是否触发重新计算",
        "original": "原报告",
        "recalculated": "重新计算",
        "no_recalc": "本期未发生结构或方法变化，无需重新计算。",
        "s_uncertainty": "八、不确定性评估",
        "uncertainty_text": "按 IPCC 2006 指南第 1 卷第 3 章：方法 1（误差传递）与方法 2（蒙特卡洛），"
        "给出各类别与合计的 95% 置信区间；活动数据不确定度取计量器具准确度等级，因子取 IPCC 缺省范围。",
        "a1": "方法 1 区间 tCO2e",
        "a2": "方法 2 区间 tCO2e",
        "input": "输入",
        "s_statements": "九、声明",
        "iso_statement": "本报告依据 ISO 14064-1:2018 编制。",
        "verified": "本清单已经第三方核查：{verifier}，{level}，重要性水平 {materiality}%，结论：{opinion}。",
        "not_verified": "本清单尚未经第三方核查（核查类型与保证等级：无）。",
    },
    "en": {
        "title": "Greenhouse gas inventory report",
        "subtitle": "Prepared to ISO 14064-1:2018 clause 9.3.1; generated by carbonpark.",
        "s_org": "1 Reporting organisation",
        "org": "Organisation",
        "credit_code": "Unified social credit code",
        "industry": "Industry code · guideline",
        "park": "Park",
        "responsible": "Person responsible",
        "period": "Reporting period",
        "version": "Inventory version",
        "s_boundary": "2 Boundaries",
        "approach": "Consolidation approach",
        "entity": "Entity",
        "share": "Share",
        "controlled": "Controlled",
        "yes": "yes",
        "no": "no",
        "reporting_boundary": "Reporting boundary",
        "included": "categories included",
        "significance": "Significance criterion",
        "category": "Category",
        "excluded_reason": "Reason for exclusion",
        "excluded_estimate": "Estimate excluded tCO2e",
        "not_selected": "not selected in the reporting boundary",
        "s_emissions": "3 Emissions and removals",
        "u95": "95 % uncertainty",
        "total": "Total",
        "indirect_note": "Indirect emissions are reported by category 2-6; biogenic CO2 and removals are apart.",
        "direct_by_gas": "Direct emissions (category 1) by gas, tCO2e",
        "removals": "Direct GHG removals",
        "biogenic": "Biogenic CO2",
        "biogenic_note": "Reported separately, not in the total (ISO 14064-1 Annex D).",
        "by_source": "By source",
        "source": "Source",
        "activity": "Activity",
        "gas": "Gas",
        "s_activity": "4 Activity data and their sources",
        "amount": "Amount",
        "unit": "Unit",
        "data_source": "Data source",
        "metered_data": "meter readings aggregated (attested on the platform)",
        "s_methods": "5 Quantification approaches",
        "methods_text": "Emission-factor and mass-balance approaches, E = AD × EF × GWP "
        "(guide §4.2 formulas (1), (2)). Methods used:",
        "method_change": "Change of approach since the previous report",
        "s_factors": "6 Emission factors and their sources",
        "factor": "Factor",
        "value": "Value",
        "source_doc": "Source",
        "gwp": "GWP values",
        "gwp_source": "IPCC assessment report, 100-year",
        "factor_set": "factor set",
        "s_base_year": "7 Base year and recalculation",
        "base_year": "Base year",
        "threshold": "Recalculation threshold",
        "recalc": "Recalculation triggered",
        "original": "As reported",
        "recalculated": "Recalculated",
        "no_recalc": "No structural or method change this period; no recalculation.",
        "s_uncertainty": "8 Uncertainty assessment",
        "uncertainty_text": "IPCC 2006 Guidelines Vol. 1 Ch. 3: Approach 1 (error propagation) and Approach 2 "
        "(Monte Carlo), 95 % intervals per category and total; activity data take the meter accuracy class, "
        "factors the IPCC default ranges.",
        "a1": "Approach 1 interval tCO2e",
        "a2": "Approach 2 interval tCO2e",
        "input": "Input",
        "s_statements": "9 Statements",
        "iso_statement": "This report has been prepared in accordance with ISO 14064-1:2018.",
        "verified": "This inventory was verified by {verifier}: {level}, materiality {materiality} %, "
        "opinion {opinion}.",
        "not_verified": "This inventory has not been verified (type of verification and level of assurance: none).",
    },
}


@lru_cache(maxsize=1)
def content_items() -> list[dict[str, str]]:
    """The required ISO 14064-1:2018 content items (id, item, section)."""
    text = files("carbonpark.reports").joinpath("data/iso14064-1-content-items.yaml").read_text("utf-8")
    return list(yaml.safe_load(text))


def _env() -> Environment:
    return Environment(
        loader=PackageLoader("carbonpark.reports", "templates"), autoescape=select_autoescape(["html", "j2"])
    )


def num(value: Any) -> str:
    """A number with thousands separators and two decimals (what the PDF test searches for)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{float(value):,.2f}"


def _check_lang(lang: str) -> None:
    if lang not in TEXT:
        raise ValidationError("--lang", "zh or en", lang)


def render_html(
    detail: Mapping[str, Any],
    *,
    lang: str = "zh",
    version: Mapping[str, Any] | None = None,
    statement: Mapping[str, Any] | None = None,
    recalculation: Mapping[str, Any] | None = None,
    responsible: str = "",
) -> str:
    """The report as one HTML document (charts inline as SVG)."""
    _check_lang(lang)
    t = TEXT[lang]
    cats = CATEGORY_NAMES[lang]
    ent = detail.get("enterprise") or {}
    park = detail.get("park") or {}
    name_key = "name" if lang == "zh" else "name_en"
    org_name = (ent.get(name_key) or ent.get("name")) if ent else (park.get(name_key) or park.get("name") or "park")
    unc = detail["uncertainty"]["approach1" if detail["uncertainty"].get("reported") != "approach2" else "approach2"]

    def interval(doc: Mapping[str, Any]) -> Any:
        class _I:
            lower, upper, u95_pct = doc["lower"], doc["upper"], doc["u95_pct"]

        return _I

    def unc_view(block: Mapping[str, Any]) -> Any:
        class _U:
            total = interval(block["total"])
            by_category: ClassVar[dict[str, Any]] = {c: interval(v) for c, v in block["by_category"].items()}

        return _U

    by_gas = {g: v["tco2e"] for g, v in detail["by_gas"].items()}
    months = sorted(detail.get("by_month", {}).items())
    charts = {
        "chart_category": bar_svg(
            [f"{c}" for c in CATEGORIES],
            [detail["by_category"][c] for c in CATEGORIES],
            title=t["s_emissions"],
            unit="tCO2e",
        ),
        "chart_gas": bar_svg(list(by_gas) or ["CO2"], list(by_gas.values()) or [0.0], title=t["gas"], unit="tCO2e"),
        "chart_month": line_svg([m for m, _ in months], [v for _, v in months], title="tCO2e / month", unit="tCO2e")
        if months
        else "",
    }
    methods = sorted({s["method"] for s in detail["sources"]})
    if statement:
        level = statement.get("level_of_assurance", "")
        verification_text = t["verified"].format(
            verifier=statement.get("verifier", ""),
            level=level,
            materiality=statement.get("materiality_pct", ""),
            opinion=statement.get("opinion", ""),
        )
    else:
        verification_text = t["not_verified"]
    base_year = detail.get("base_year")
    version_label = f"v{version['version']} ({version['status']})" if version else "live"
    guideline = detail.get("guideline", "")
    return (
        _env()
        .get_template("inventory.html.j2")
        .render(
            lang=lang,
            t=t,
            d=detail,
            org_name=org_name,
            park_name=(park.get(name_key) or park.get("name") or ""),
            responsible=responsible or "—",
            version_label=version_label,
            guideline=guideline,
            approach_label=APPROACH_NAMES[lang].get(detail["boundary"]["approach"], detail["boundary"]["approach"]),
            categories=CATEGORIES,
            cat_names=cats,
            gases=GASES,
            unc=unc_view(unc),
            a1=unc_view(detail["uncertainty"]["approach1"]),
            a2=unc_view(detail["uncertainty"]["approach2"]),
            num=num,
            pct=lambda v: "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"±{v:.1f} %",
            methods=methods,
            method_change="—",
            base_year_label=str(base_year) if base_year else "—",
            threshold=detail.get("threshold_pct", 5.0),
            recalc=recalculation,
            verification_text=verification_text,
            **charts,
        )
    )


def write_pdf(html: str, path: Path | str) -> Path:
    """The HTML report as PDF (WeasyPrint, CJK fonts)."""
    return html_to_pdf(html, path)


def write_xlsx(detail: Mapping[str, Any], path: Path | str, *, lang: str = "zh") -> Path:
    """The inventory workbook: summary, sources, factors, uncertainty and monthly sheets (openpyxl)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    _check_lang(lang)
    t = TEXT[lang]
    wb = Workbook()
    ws = wb.active
    ws.title = "summary"
    ws.append([t["org"], detail["org"]])
    ws.append([t["period"], detail["year"]])
    ws.append([t["approach"], detail["boundary"]["approach"]])
    ws.append([])
    ws.append([t["category"], "tCO2e"])
    for c in CATEGORIES:
        ws.append([f"{c} {CATEGORY_NAMES[lang][c]}", detail["by_category"][c]])
    ws.append([t["total"], detail["total_tco2e"]])
    ws.append([t["removals"], detail["removals_tco2e"]])
    ws.append([t["biogenic"] + " (t)", detail["biogenic_co2_t"]])
    a1 = detail["uncertainty"]["approach1"]["total"]
    ws.append(["U95 lower", a1["lower"]])
    ws.append(["U95 upper", a1["upper"]])
    for row in ws.iter_rows(min_row=5, max_row=5):
        for cell in row:
            cell.font = Font(bold=True)
    gas = wb.create_sheet("by_gas")
    gas.append([t["gas"], "mass_t", "tCO2e"])
    for g, v in detail["by_gas"].items():
        gas.append([g, v["mass_t"], v["tco2e"]])
    src = wb.create_sheet("sources")
    cols = ["source", "entity", "activity", "gas", "category", "kind", "amount", "unit", "method", "share", "tco2e"]
    src.append(cols)
    for s in detail["sources"]:
        src.append([s[c] for c in cols])
    fac = wb.create_sheet("factors")
    fac.append(["id", "value", "unit", "source", "clause"])
    for f in detail["factors"]:
        fac.append([f["id"], f["value"], f["unit"], f["source"], f["clause"]])
    unc = wb.create_sheet("uncertainty")
    unc.append(["category", "approach1_lower", "approach1_upper", "approach2_lower", "approach2_upper"])
    u1, u2 = detail["uncertainty"]["approach1"], detail["uncertainty"]["approach2"]
    for c in CATEGORIES:
        b1, b2 = u1["by_category"][c], u2["by_category"][c]
        unc.append([c, b1["lower"], b1["upper"], b2["lower"], b2["upper"]])
    unc.append(["total", u1["total"]["lower"], u1["total"]["upper"], u2["total"]["lower"], u2["total"]["upper"]])
    month = wb.create_sheet("by_month")
    month.append(["month", "tCO2e"])
    for m, v in sorted(detail.get("by_month", {}).items()):
        month.append([m, v])
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    wb.save(target)
    return target


def write_report(detail: Mapping[str, Any], path: Path | str, *, fmt: str, lang: str = "zh", **context: Any) -> Path:
    """Write the report as ``html``, ``pdf`` or ``xlsx`` at ``path``."""
    if fmt not in ("html", "pdf", "xlsx"):
        raise ValidationError("--format", "pdf, html or xlsx", fmt)
    if fmt == "xlsx":
        return write_xlsx(detail, path, lang=lang)
    html = render_html(detail, lang=lang, **context)
    if fmt == "pdf":
        return write_pdf(html, path)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html, encoding="utf-8")
    return target
