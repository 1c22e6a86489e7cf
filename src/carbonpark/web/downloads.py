"""PDF report downloads of the dashboard (issue 14 item 3): one per capability that has a report.

``/web/<page>/report.pdf`` calls the builder of :data:`REPORTS` with the page's context (principal,
language, query) and returns ``(pdf bytes, file name)``. Each builder reads through the same service the
CLI and the API use and renders with the capability's own report module (``carbonpark.reports``), so the
dashboard's PDF is the CLI's PDF:

============ ======================================================= ==========================================
page         service                                                  report
============ ======================================================= ==========================================
inventory    ``services.inventory.report_context`` (scoped, frozen    ``reports.inventory_report`` (ISO 14064-1)
             only for the regulator)
evaluation   ``services.evaluation.evaluate_stored``                  ``reports.evaluation``
retrofit     ``services.retrofit`` plan, evaluation, admission,       ``reports.retrofit`` (MACC, §7.5)
             ratings
trading      ``services.trading.compliance_statement``                ``reports.trading`` (履约报告)
energy       ``services.trading.energy_status_report``                ``reports.trading`` (能源利用状况报告)
footprint    ``services.footprints.product_inventory``                ``reports.footprint`` (ISO 14067, Sankey)
============ ======================================================= ==========================================

References
----------
.. [1] 工业互联网双碳园区建设指南 §3.2.2(2)3 (平台), §5.2 (核算报告), §7.4–§7.5 (碳改造、碳评价), §8.1 (能耗双控).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from carbonpark.errors import NotFoundError, ValidationError
from carbonpark.store import session
from carbonpark.web import pages
from carbonpark.web.pages import Ctx

__all__ = ["REPORTS", "report_lang"]


def report_lang(ctx: Ctx) -> str:
    """The report modules' language code (``zh`` or ``en``) of the dashboard language."""
    return "en" if ctx.lang == "en" else "zh"


def _pdf_of(write: Callable[[Path], Path]) -> bytes:
    with tempfile.TemporaryDirectory(prefix="cp-web-report-") as tmp:
        return write(Path(tmp) / "report.pdf").read_bytes()


def _safe(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-." else "_" for ch in text)


def inventory_pdf(ctx: Ctx) -> tuple[bytes, str]:
    """The GHG inventory report of the page's organisation-year (``?org=&year=``)."""
    from carbonpark.reports import inventory_report
    from carbonpark.services import inventory as inv

    year = pages.year_of(ctx)
    org = pages.org_of(ctx)
    with session(ctx.db) as s:
        key, _ent = inv.org_in_scope(s, ctx.who, org, year)
        inv.require_frozen(s, ctx.who, key, year)
        detail, context = inv.report_context(s, key, year, "pdf")
        lang = report_lang(ctx)
        pdf = _pdf_of(lambda p: inventory_report.write_report(detail, p, fmt="pdf", lang=lang, **context))
    return pdf, f"inventory-{_safe(key)}-{year}-{lang}.pdf"


def evaluation_pdf(ctx: Ctx) -> tuple[bytes, str]:
    """The park's evaluation and diagnosis report of the year (the page's figures)."""
    from carbonpark.reports.evaluation import write_evaluation_report

    year = pages.year_of(ctx)
    stored = pages.stored_evaluation(ctx.db, year)
    lang = report_lang(ctx)
    pdf = _pdf_of(lambda p: write_evaluation_report(stored, p, lang=lang, fmt="pdf"))
    return pdf, f"evaluation-{year}-{lang}.pdf"


def retrofit_pdf(ctx: Ctx) -> tuple[bytes, str]:
    """MACC, portfolio, §7.5 carbon evaluation, admission check and ratings of the park's plan."""
    from carbonpark.reports.retrofit import write_retrofit_report

    year = pages.year_of(ctx)
    bundle = pages.retrofit_bundle(ctx.db, year)
    lang = report_lang(ctx)
    pdf = _pdf_of(lambda p: write_retrofit_report(bundle, p, lang=lang, fmt="pdf"))
    return pdf, f"retrofit-{year}-{lang}.pdf"


def _enterprise_of(ctx: Ctx) -> str:
    """The enterprise a per-enterprise report is about: ``?org=`` or the first one in scope."""
    org = pages.org_of(ctx)
    if org != "park":
        return org
    ents = pages.enterprises_in_scope(ctx.db, ctx.who)
    if not ents:
        raise NotFoundError("enterprise", "(none in your scope)")
    return str(ents[0].handle)


def _trading_pdf(kind: str, ctx: Ctx) -> tuple[bytes, str]:
    from carbonpark.reports import trading as reports
    from carbonpark.services import trading

    if kind not in ("compliance", "energy"):
        raise ValidationError("kind", "compliance or energy", kind)
    year = pages.year_of(ctx)
    ent = _enterprise_of(ctx)
    who = None if ctx.who.role == "park_admin" else ctx.who
    fetch = trading.compliance_statement if kind == "compliance" else trading.energy_status_report
    with session(ctx.db) as s:
        doc = fetch(s, ent, year, who)
    lang = report_lang(ctx)
    pdf = _pdf_of(lambda p: reports.write(kind, doc, p, lang))
    return pdf, f"{kind}-{_safe(ent)}-{year}-{lang}.pdf"


def trading_pdf(ctx: Ctx) -> tuple[bytes, str]:
    """The compliance statement (履约报告) of an enterprise (``?org=``, else the first in scope)."""
    return _trading_pdf("compliance", ctx)


def energy_pdf(ctx: Ctx) -> tuple[bytes, str]:
    """The energy-use status report (能源利用状况报告) of an enterprise (``?org=``, else the first in scope)."""
    return _trading_pdf("energy", ctx)


def footprint_pdf(ctx: Ctx) -> tuple[bytes, str]:
    """The ISO 14067-layout footprint report of one product (``?product=``, else the first in scope)."""
    from carbonpark.reports.footprint import render_html, render_pdf
    from carbonpark.services.footprints import product_inventory

    year = pages.year_of(ctx)
    result = pages.footprints_of(ctx.db, year)
    products = pages.products_in_scope(ctx, result)
    product = ctx.q("product") or (products[0] if products else "")
    if product not in products:
        raise NotFoundError("product footprint", product or "(none in your scope)")
    doc = product_inventory(result, product)
    lang = report_lang(ctx)
    return render_pdf(render_html(doc, lang)), f"footprint-{_safe(product)}-{year}-{lang}.pdf"


#: Page key → PDF builder (``/web/<page>/report.pdf``).
REPORTS: dict[str, Callable[[Ctx], tuple[bytes, str]]] = {
    "inventory": inventory_pdf,
    "evaluation": evaluation_pdf,
    "retrofit": retrofit_pdf,
    "trading": trading_pdf,
    "energy": energy_pdf,
    "footprint": footprint_pdf,
}
