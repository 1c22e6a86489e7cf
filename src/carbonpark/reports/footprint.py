"""The product carbon footprint report (产品碳足迹报告): ISO 14067 layout, zh-CN and English, HTML and PDF.

Input is the inventory of :func:`carbonpark.footprint.inventory_report` (or
``services.footprints.product_inventory``, which adds names and the period). Sections, in the order
ISO 14067:2018 §7 asks a CFP study report to give them: functional unit, system boundary, data
sources and data quality, results by life-cycle stage, hotspots, allocation choices, and the
lineage of every figure.

The Sankey chart of the flows is drawn here as plain SVG paths (no JavaScript, no CDN, no
kaleido): it works the same in a browser and in WeasyPrint's PDF. Columns run from the leaf
terms (supplier figures, energy, transport, process) on the left through the intermediate
products to the reported product on the right; band widths are proportional to tCO2e per
functional unit, and terms under 1 % of the total are gathered per product as "other".

References
----------
ISO 14067:2018 §7 (CFP study report); guide §2.2 (生成 LCA 报告); issue 7 item 5.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from html import escape
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from carbonpark.errors import ValidationError
from carbonpark.footprint import STAGES

__all__ = ["LABELS", "render_html", "render_pdf", "sankey_svg", "write_report"]

LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "title": "产品碳足迹报告",
        "standard": "报告结构参照 ISO 14067:2018 第7章",
        "functional_unit": "功能单位",
        "period": "数据期间",
        "boundary": "系统边界",
        "included": "包含阶段",
        "excluded": "不包含阶段",
        "data": "数据来源与数据质量",
        "quality": "数据质量",
        "products_in_chain": "供应链中产品数",
        "given": "采用供应商声明值的输入",
        "share_given": "来自供应商声明值的比例",
        "results": "结果（按生命周期阶段）",
        "total": "合计",
        "stage": "阶段",
        "tco2e": "tCO2e/功能单位",
        "share": "占比",
        "by_input": "直接输入的隐含排放",
        "input": "输入",
        "flows": "排放流向（桑基图）",
        "hotspots": "热点",
        "path": "路径",
        "kind": "类型",
        "ref": "对象",
        "source": "来源",
        "allocation": "分配方法",
        "no_allocation": "无多产出过程，未做分配。",
        "process": "过程",
        "method": "方法",
        "basis": "依据",
        "lineage": "数据溯源",
        "formula": "计算式",
        "not_stated": "未注明",
        "raw_materials": "原材料",
        "inbound_transport": "进厂运输",
        "manufacturing_energy": "生产能耗",
        "process_stage": "工艺排放",
        "packaging": "包装",
        "use_phase": "使用阶段",
        "end_of_life": "废弃处置",
        "other": "其他",
    },
    "en": {
        "title": "Product carbon footprint report",
        "standard": "Layout after ISO 14067:2018 clause 7",
        "functional_unit": "Functional unit",
        "period": "Data period",
        "boundary": "System boundary",
        "included": "Stages included",
        "excluded": "Stages excluded",
        "data": "Data sources and data quality",
        "quality": "Data quality",
        "products_in_chain": "Products in the supply chain",
        "given": "Inputs with a supplier's declared figure",
        "share_given": "Share from supplier figures",
        "results": "Results by life-cycle stage",
        "total": "Total",
        "stage": "Stage",
        "tco2e": "tCO2e per functional unit",
        "share": "Share",
        "by_input": "Embodied emissions of direct inputs",
        "input": "Input",
        "flows": "Flows (Sankey chart)",
        "hotspots": "Hotspots",
        "path": "Path",
        "kind": "Kind",
        "ref": "Item",
        "source": "Source",
        "allocation": "Allocation",
        "no_allocation": "No multi-output process: nothing allocated.",
        "process": "Process",
        "method": "Method",
        "basis": "Basis",
        "lineage": "Lineage",
        "formula": "Formula",
        "not_stated": "not stated",
        "raw_materials": "Raw materials",
        "inbound_transport": "Inbound transport",
        "manufacturing_energy": "Manufacturing energy",
        "process_stage": "Process emissions",
        "packaging": "Packaging",
        "use_phase": "Use phase",
        "end_of_life": "End of life",
        "other": "other",
    },
}

_PALETTE = {
    "given": "#4e79a7",
    "energy": "#f28e2b",
    "transport": "#76b7b2",
    "process": "#e15759",
    "use_phase": "#b07aa1",
    "product": "#59a14f",
    "other": "#bab0ac",
}


def _labels(lang: str) -> dict[str, str]:
    if lang not in LABELS:
        raise ValidationError("lang", "zh or en", lang)
    return LABELS[lang]


def _name(names: dict[str, str], ref: str) -> str:
    return names.get(ref, ref)


def sankey_svg(inventory: dict[str, Any], lang: str = "zh", *, width: int = 760, min_share: float = 0.01) -> str:
    """An SVG Sankey chart of where a product's footprint comes from.

    Parameters
    ----------
    inventory
        The inventory (its ``lineage`` is traced down to leaf terms here).
    lang
        ``zh`` or ``en`` for the labels.
    width
        Width of the drawing [px].
    min_share
        Leaf terms below this share of the total are gathered per product as "other".

    Returns
    -------
    str
        An ``<svg>`` element.
    """
    labels = _labels(lang)
    names: dict[str, str] = inventory.get("names", {})
    root = inventory["product"]
    lineage: dict[str, list[dict[str, Any]]] = inventory["lineage"]
    total = abs(inventory["results"]["tco2e_per_unit"]) or 1.0
    links: dict[tuple[str, str], float] = defaultdict(float)
    depth: dict[str, int] = {f"p:{root}": 0}
    kind_of: dict[str, str] = {f"p:{root}": "product"}

    def walk(pid: str, scale: float, level: int) -> None:
        target = f"p:{pid}"
        for term in lineage.get(pid, []):
            if level > 0 and term["stage"] == "use_phase":
                continue
            value = abs(term["tco2e"]) * scale
            if term["kind"] == "input" and term["quantity"] is not None and term["ref"] in lineage:
                node = f"p:{term['ref']}"
                depth[node] = max(depth.get(node, 0), level + 1)
                upstream = lineage[term["ref"]]
                given = all(t["kind"] == "given" for t in upstream if t["stage"] != "use_phase")
                kind_of[node] = "given" if given else "product"
                links[(node, target)] += value
                if not given:
                    walk(term["ref"], scale * term["quantity"], level + 1)
                continue
            small = value / total < min_share
            node = f"o:{pid}" if small else f"t:{pid}:{term['kind']}:{term['ref']}"
            depth[node] = max(depth.get(node, 0), level + 1)
            kind_of[node] = "other" if small else term["kind"]
            links[(node, target)] += value

    walk(root, 1.0, 0)
    levels = max(depth.values())
    columns: dict[int, list[str]] = defaultdict(list)
    for node, d in sorted(depth.items(), key=lambda kv: kv[0]):
        columns[levels - d].append(node)
    flow_in: dict[str, float] = defaultdict(float)
    flow_out: dict[str, float] = defaultdict(float)
    for (src, dst), v in links.items():
        flow_out[src] += v
        flow_in[dst] += v
    size = {n: max(flow_in[n], flow_out[n]) for n in depth}
    node_w, gap, top, margin, label_w = 14, 10, 20, 10, 170
    height_px = 420
    usable = height_px - top * 2 - gap * max(len(c) for c in columns.values())
    scale_px = usable / max(sum(size[n] for n in col) for col in columns.values())
    col_x = {c: margin + c * (width - margin - label_w - node_w) / max(levels, 1) for c in columns}
    pos: dict[str, tuple[float, float, float]] = {}
    for c, col in columns.items():
        y = float(top)
        for n in sorted(col, key=lambda n: -size[n]):
            h = max(size[n] * scale_px, 1.0)
            pos[n] = (col_x[c], y, h)
            y += h + gap

    def label(node: str) -> str:
        kind, _, rest = node.partition(":")
        if kind == "p":
            return _name(names, rest)
        if kind == "o":
            return f"{labels['other']} ({_name(names, rest)})"
        _pid, term_kind, ref = rest.split(":", 2)
        return f"{term_kind}: {_name(names, ref)}"

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height_px}" '
        f'viewBox="0 0 {width} {height_px}" font-size="10" font-family="Noto Sans CJK SC, sans-serif">'
    ]
    out_used: dict[str, float] = defaultdict(float)
    in_used: dict[str, float] = defaultdict(float)
    for (src, dst), v in sorted(links.items(), key=lambda kv: (pos[kv[0][1]][1], pos[kv[0][0]][1])):
        sx, sy, _ = pos[src]
        tx, ty, _ = pos[dst]
        w = v * scale_px
        y0 = sy + out_used[src] + w / 2
        y1 = ty + in_used[dst] + w / 2
        out_used[src] += w
        in_used[dst] += w
        x0, x1 = sx + node_w, tx
        mid = (x0 + x1) / 2
        color = _PALETTE.get(kind_of[src], "#999")
        parts.append(
            f'<path d="M{x0:.1f},{y0:.1f} C{mid:.1f},{y0:.1f} {mid:.1f},{y1:.1f} {x1:.1f},{y1:.1f}" '
            f'stroke="{color}" stroke-opacity="0.45" stroke-width="{max(w, 0.5):.2f}" fill="none">'
            f"<title>{escape(label(src))} → {escape(label(dst))}: {v:.6g} tCO2e</title></path>"
        )
    for node, (x, y, h) in pos.items():
        color = _PALETTE.get(kind_of[node], "#999")
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{node_w}" height="{h:.1f}" fill="{color}"/>')
        text = escape(label(node))
        share = size[node] / total
        tx = x + node_w + 4
        parts.append(f'<text x="{tx:.1f}" y="{y + h / 2 + 3:.1f}">{text} {share:.1%}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("carbonpark.reports", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(inventory: dict[str, Any], lang: str = "zh") -> str:
    """The report as one self-contained HTML page (inline CSS and SVG)."""
    labels = _labels(lang)
    names: dict[str, str] = inventory.get("names", {})
    results = inventory["results"]
    total = results["tco2e_per_unit"]
    stage_label = {s: labels["process_stage" if s == "process" else s] for s in [*STAGES, "end_of_life"]}
    env = _environment()
    env.filters["name"] = lambda ref: _name(names, ref)
    boundary = inventory["system_boundary"]
    return env.get_template("footprint.html").render(
        lang=lang,
        t=labels,
        inv=inventory,
        name=lambda ref: _name(names, ref),
        total=total,
        stage_label=stage_label,
        included=[stage_label.get(s, s) for s in boundary["stages_included"]],
        excluded=[stage_label.get(s, s) for s in boundary["stages_excluded"]],
        sankey=Markup(sankey_svg(inventory, lang)),
    )


def render_pdf(html: str) -> bytes:
    """The HTML report as PDF (WeasyPrint; CJK text needs a CJK font such as Noto Sans/Serif CJK installed)."""
    with warnings.catch_warnings():  # WeasyPrint warns at import when libharfbuzz-subset is missing
        warnings.simplefilter("ignore", DeprecationWarning)
        from weasyprint import HTML

    pdf: bytes = HTML(string=html).write_pdf()
    return pdf


def write_report(
    inventory: dict[str, Any], out_dir: Path, *, lang: str = "zh", pdf: bool = True, stem: str | None = None
) -> dict[str, Path]:
    """Write ``<stem>.<lang>.html`` (and ``.pdf``) into ``out_dir``; returns the paths by kind."""
    out_dir.mkdir(parents=True, exist_ok=True)
    base = stem or "footprint-" + "".join(ch if ch.isalnum() else "_" for ch in inventory["product"])
    html = render_html(inventory, lang)
    paths = {"html": out_dir / f"{base}.{lang}.html"}
    paths["html"].write_text(html, encoding="utf-8")
    if pdf:
        paths["pdf"] = out_dir / f"{base}.{lang}.pdf"
        paths["pdf"].write_bytes(render_pdf(html))
    return paths
