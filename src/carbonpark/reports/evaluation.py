"""Evaluation diagnosis report (zh-CN / English, HTML and PDF).

The page of :func:`carbonpark.evaluate.render_html` (score, radar of the first level, level tables,
weakest indicators with the score gain available, every indicator with its computation) completed by
the platform figures read from the store with how each was counted, the indicators the platform could
not compute and why, and optionally a comparison across years or parks. PDF through
:func:`carbonpark.reports.pdf.html_to_pdf` (WeasyPrint).

References
----------
工业互联网产业联盟, 《工业互联网碳达峰碳中和园区指南(2021)》, §5 and appendix, §6.5; issue 11 item 5.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any, Protocol

from carbonpark import evaluate
from carbonpark.errors import ValidationError
from carbonpark.reports.pdf import html_to_pdf


class StoredEvaluation(Protocol):
    """What the report reads of ``carbonpark.services.evaluation.StoredEvaluation`` (a frozen dataclass)."""

    @property
    def year(self) -> int: ...
    @property
    def evaluation(self) -> evaluate.Evaluation: ...
    @property
    def figures(self) -> dict[str, Any]: ...
    @property
    def notes(self) -> dict[str, str]: ...
    @property
    def skipped(self) -> dict[int, str]: ...
    @property
    def platform_ids(self) -> tuple[int, ...]: ...


__all__ = ["comparison_html", "render_evaluation_html", "write_evaluation_report"]

_TEXT: dict[str, dict[str, str]] = {
    "title": {"zh": "{year} 年园区评价诊断报告", "en": "Park evaluation and diagnosis, {year}"},
    "figures": {"zh": "平台数据(自动计算的依据)", "en": "Platform figures (what the computed indicators rest on)"},
    "figure": {"zh": "数据项", "en": "Figure"},
    "value": {"zh": "数值", "en": "Value"},
    "how": {"zh": "统计方法", "en": "How it was counted"},
    "skipped": {"zh": "平台未能计算的指标", "en": "Indicators the platform could not compute"},
    "comparison": {"zh": "跨年度/跨园区对比", "en": "Comparison across years or parks"},
    "total": {"zh": "总分", "en": "Total"},
    "platform": {"zh": "平台计算的指标:{ids}", "en": "Indicators computed from platform data: {ids}"},
}


def _t(key: str, lang: str, **kw: Any) -> str:
    return _TEXT[key][lang].format(**kw)


def _check_lang(lang: str) -> None:
    if lang not in ("zh", "en"):
        raise ValidationError("lang", "zh or en", lang)


def comparison_html(comparison: evaluate.Comparison, lang: str = "zh") -> str:
    """A table of total and first-level scores per label (year or park), deltas against the first."""
    _check_lang(lang)
    cat = evaluate.load_catalogue()
    labels = list(comparison.score)
    head = "".join(f"<th>{escape(n)}</th>" for n in labels)
    rows = [
        f"<tr><td>{_t('total', lang)}</td>" + "".join(f"<td class='n'>{comparison.score[n]:.2f}</td>" for n in labels)
    ]
    for l1_id, l1 in cat.level1.items():
        name = l1.name_zh if lang == "zh" else l1.name_en
        cells = "".join(f"<td class='n'>{comparison.level1[n][l1_id]:.2f}</td>" for n in labels)
        rows.append(f"<tr><td>{l1_id} {escape(name)}</td>{cells}</tr>")
    return f"<h2>{_t('comparison', lang)}</h2><table><tr><th></th>{head}</tr>" + "</tr>".join(rows) + "</tr></table>"


def render_evaluation_html(
    stored: StoredEvaluation,
    lang: str = "zh",
    *,
    title: str | None = None,
    comparison: evaluate.Comparison | None = None,
    top: int = 10,
) -> str:
    """The whole report page of a stored evaluation.

    Parameters
    ----------
    stored
        From :func:`carbonpark.services.evaluation.evaluate_stored`.
    lang
        ``zh`` (default) or ``en``.
    comparison
        Optional comparison across years or parks (:func:`carbonpark.evaluate.compare`).
    """
    _check_lang(lang)
    page = evaluate.render_html(
        stored.evaluation, "zh" if lang == "zh" else "en", title or _t("title", lang, year=stored.year), top=top
    )
    ids = ", ".join(str(i) for i in stored.platform_ids) or "—"
    extra = [f"<p>{escape(_t('platform', lang, ids=ids))}</p>"]
    extra.append(
        f"<h2>{_t('figures', lang)}</h2><table><tr><th>{_t('figure', lang)}</th><th>{_t('value', lang)}</th>"
        f"<th>{_t('how', lang)}</th></tr>"
    )
    for name, value in stored.figures.items():
        shown = value if isinstance(value, bool) else f"{float(value):,.4g}"
        extra.append(
            f"<tr><td>{escape(name)}</td><td class='n'>{escape(str(shown))}</td>"
            f"<td>{escape(stored.notes.get(name, ''))}</td></tr>"
        )
    extra.append("</table>")
    if stored.skipped:
        extra.append(f"<h2>{_t('skipped', lang)}</h2><ul>")
        extra += [f"<li>{k}: {escape(v)}</li>" for k, v in sorted(stored.skipped.items())]
        extra.append("</ul>")
    if comparison is not None:
        extra.append(comparison_html(comparison, lang))
    marker = "</body>"
    return page.replace(marker, "\n".join(extra) + marker, 1)


def write_evaluation_report(
    stored: StoredEvaluation,
    path: Path | str,
    *,
    lang: str = "zh",
    fmt: str = "html",
    comparison: evaluate.Comparison | None = None,
) -> Path:
    """Write the report as ``html`` or ``pdf`` at ``path``."""
    if fmt not in ("html", "pdf"):
        raise ValidationError("format", "html or pdf", fmt)
    html = render_evaluation_html(stored, lang, comparison=comparison)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "pdf":
        return html_to_pdf(html, target)
    target.write_text(html, encoding="utf-8")
    return target
