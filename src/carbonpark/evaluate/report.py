"""A self-contained HTML report of an evaluation (zh-CN or English) with a radar chart drawn as inline SVG.

Pure string building: no template files, no scripts, no network; a PDF is the browser's or the reports layer's
print of this page.

References
----------
工业互联网产业联盟, 《工业互联网碳达峰碳中和园区指南(2021)》, §5 (scores 0-100, level breakdown) and §6.5
(evaluation to diagnose the park).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Literal

from carbonpark.evaluate.catalogue import Catalogue, load_catalogue
from carbonpark.evaluate.diagnosis import weakest
from carbonpark.evaluate.scoring import Evaluation

__all__ = ["radar_svg", "render_html"]

Language = Literal["zh", "en"]

_TEXT: dict[str, dict[Language, str]] = {
    "title": {"zh": "工业互联网双碳园区评价报告", "en": "Industrial-internet dual-carbon park evaluation"},
    "score": {"zh": "综合得分", "en": "Total score"},
    "weights": {"zh": "权重", "en": "Weights"},
    "level1": {"zh": "一级指标", "en": "First-level indicators"},
    "level2": {"zh": "二级指标", "en": "Second-level indicators"},
    "indicators": {"zh": "三级指标", "en": "Third-level indicators"},
    "weakest": {"zh": "最薄弱指标(可提升分值)", "en": "Weakest indicators (score gain available)"},
    "missing": {"zh": "缺失指标(按 0 分计)", "en": "Missing indicators (scored 0)"},
    "id": {"zh": "编号", "en": "Id"},
    "name": {"zh": "名称", "en": "Name"},
    "value": {"zh": "数值", "en": "Value"},
    "unit": {"zh": "单位", "en": "Unit"},
    "points": {"zh": "得分", "en": "Score"},
    "weight": {"zh": "权重", "en": "Weight"},
    "gain": {"zh": "可提升总分", "en": "Gain in total score"},
    "method": {"zh": "计算方法", "en": "Method"},
    "evidence": {"zh": "依据", "en": "Evidence"},
    "none": {"zh": "无", "en": "none"},
    "source": {
        "zh": "依据:工业互联网产业联盟《工业互联网碳达峰碳中和园区指南(2021)》第五章及附录,公式(9)(10)。",
        "en": "Per the Alliance of Industrial Internet, Guide to industrial-internet carbon-peak carbon-neutral "
        "parks (2021), section 5 and appendix, formulas (9) and (10).",
    },
}


def _t(key: str, lang: Language) -> str:
    return _TEXT[key][lang]


def radar_svg(labels: Sequence[str], scores: Sequence[float], size: int = 360) -> str:
    """A radar (spider) chart of scores on 0-100 as an SVG string.

    Parameters
    ----------
    labels
        Axis names, clockwise from the top.
    scores
        One score [0-100] per axis.
    size
        Width and height [px].
    """
    n = len(labels)
    centre = size / 2
    radius = size * 0.32

    def point(k: int, fraction: float) -> tuple[float, float]:
        angle = -math.pi / 2 + 2 * math.pi * k / n
        return centre + radius * fraction * math.cos(angle), centre + radius * fraction * math.sin(angle)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" viewBox="0 0 {size} {size}" '
        f'role="img" aria-label="radar">'
    ]
    for ring in (0.2, 0.4, 0.6, 0.8, 1.0):
        ring_points = " ".join(f"{x:.1f},{y:.1f}" for x, y in (point(k, ring) for k in range(n)))
        parts.append(f'<polygon points="{ring_points}" fill="none" stroke="#ccc" stroke-width="1"/>')
    for k, label in enumerate(labels):
        x, y = point(k, 1.0)
        lx, ly = point(k, 1.18)
        anchor = "middle" if abs(lx - centre) < 1 else ("start" if lx > centre else "end")
        parts.append(f'<line x1="{centre:.1f}" y1="{centre:.1f}" x2="{x:.1f}" y2="{y:.1f}" stroke="#ccc"/>')
        parts.append(
            f'<text x="{lx:.1f}" y="{ly:.1f}" font-size="12" text-anchor="{anchor}" '
            f'dominant-baseline="middle">{escape(label)} {scores[k]:.1f}</text>'
        )
    shape = " ".join(
        f"{x:.1f},{y:.1f}" for x, y in (point(k, max(0.0, min(100.0, s)) / 100) for k, s in enumerate(scores))
    )
    parts.append(f'<polygon points="{shape}" fill="#2a9d8f" fill-opacity="0.35" stroke="#2a9d8f" stroke-width="2"/>')
    parts.append("</svg>")
    return "".join(parts)


def _value_text(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def render_html(
    evaluation: Evaluation,
    lang: Language = "zh",
    title: str | None = None,
    top: int = 10,
    catalogue: Catalogue | None = None,
) -> str:
    """A complete HTML page: total score, radar of the first level, level tables, weakest indicators, all scores.

    Parameters
    ----------
    evaluation
        The scored evaluation.
    lang
        ``"zh"`` (zh-CN) or ``"en"``.
    title
        Heading, e.g. the park and year (default: the report's generic title).
    top
        How many weakest indicators to list.
    """
    cat = catalogue or load_catalogue()

    def plain(zh: str, en: str) -> str:
        return zh if lang == "zh" else en

    def name(zh: str, en: str) -> str:
        return escape(plain(zh, en))

    l1_names = [plain(cat.level1[k].name_zh, cat.level1[k].name_en) for k in cat.level1]
    html = [
        f'<!DOCTYPE html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">',
        f"<title>{escape(title or _t('title', lang))}</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;"
        "margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}"
        "td.n{text-align:right}.big{font-size:2.5em;font-weight:bold}</style></head><body>",
        f"<h1>{escape(title or _t('title', lang))}</h1>",
        f"<p>{_t('score', lang)}: <span class='big'>{evaluation.score:.2f}</span> / 100 "
        f"({_t('weights', lang)}: {escape(evaluation.weight_mode)})</p>",
        radar_svg(l1_names, [evaluation.level1[k] for k in cat.level1]),
        f"<h2>{_t('level1', lang)}</h2><table><tr><th>{_t('id', lang)}</th><th>{_t('name', lang)}</th>"
        f"<th>{_t('points', lang)}</th></tr>",
    ]
    for k, label in zip(cat.level1, l1_names, strict=True):
        html.append(f"<tr><td>{k}</td><td>{escape(label)}</td><td class='n'>{evaluation.level1[k]:.2f}</td></tr>")
    html.append(
        f"</table><h2>{_t('level2', lang)}</h2><table><tr><th>{_t('id', lang)}</th><th>{_t('name', lang)}</th>"
        f"<th>{_t('points', lang)}</th></tr>"
    )
    for k, group in cat.level2.items():
        html.append(
            f"<tr><td>{k}</td><td>{name(group.name_zh, group.name_en)}</td>"
            f"<td class='n'>{evaluation.level2[k]:.2f}</td></tr>"
        )
    html.append(
        f"</table><h2>{_t('weakest', lang)}</h2><table><tr><th>{_t('id', lang)}</th><th>{_t('name', lang)}</th>"
        f"<th>{_t('points', lang)}</th><th>{_t('gain', lang)}</th></tr>"
    )
    for w in weakest(evaluation, top):
        html.append(
            f"<tr><td>{w.id}</td><td>{name(w.name_zh, w.name_en)}</td><td class='n'>{w.score:.1f}</td>"
            f"<td class='n'>{w.gain_available:.3f}</td></tr>"
        )
    missing = ", ".join(str(i) for i in evaluation.missing) or _t("none", lang)
    html.append(f"</table><h2>{_t('missing', lang)}</h2><p>{missing}</p>")
    html.append(
        f"<h2>{_t('indicators', lang)}</h2><table><tr><th>{_t('id', lang)}</th><th>{_t('name', lang)}</th>"
        f"<th>{_t('value', lang)}</th><th>{_t('unit', lang)}</th><th>{_t('points', lang)}</th>"
        f"<th>{_t('weight', lang)} γ</th><th>{_t('method', lang)}</th><th>{_t('evidence', lang)}</th></tr>"
    )
    for item in evaluation.indicators:
        html.append(
            f"<tr><td>{item.id}</td><td>{name(item.name_zh, item.name_en)}</td>"
            f"<td class='n'>{escape(_value_text(item.value))}</td><td>{escape(item.unit)}</td>"
            f"<td class='n'>{item.score:.1f}</td><td class='n'>{item.weight:.3g}</td>"
            f"<td>{escape(item.method)}</td><td>{escape(item.evidence or '')}</td></tr>"
        )
    html.append(f"</table><p><small>{escape(_t('source', lang))}</small></p></body></html>")
    return "\n".join(html)
