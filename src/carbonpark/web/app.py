"""The dashboard's routes: login, pages, language switch, Excel export, uploads (issue 14; SPEC C20).

Mounted on the API's FastAPI app by :func:`mount` (``create_app`` calls it), so ``carbonpark
serve`` serves both. Pages are server-rendered Jinja2 over the same service layer as the API;
the login reuses :mod:`carbonpark.services.auth` (a bearer token kept in an HttpOnly,
SameSite=Strict cookie, revoked on logout). None of these routes is in the OpenAPI document.

References
----------
.. [1] 工业互联网双碳园区建设指南 §3.2.2(2)3 (平台与可视化), §5 (碳排放监测与核算), §8.2 (保障措施).
"""

from __future__ import annotations

import asyncio
import io
import json
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import plotly
from fastapi import APIRouter, FastAPI, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from openpyxl import Workbook
from sqlalchemy.orm import Session, sessionmaker

from carbonpark.accounting.activity_file import COLUMNS as ACTIVITY_COLUMNS
from carbonpark.errors import CarbonparkError
from carbonpark.services import auth
from carbonpark.services import monitoring as mon
from carbonpark.services.access import Principal
from carbonpark.services.web_activity import UPLOAD_EXTRA, import_activity_file
from carbonpark.web import downloads, pages, uploads
from carbonpark.web.i18n import DEFAULT_LANG, LANGS, translate

__all__ = ["PLOTLY_JS", "mount", "router", "sheet_title"]

_HERE = Path(__file__).parent
#: plotly.js as the ``plotly`` wheel ships it (served from site-packages, never copied into the repo).
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
TOKEN_COOKIE = "cp_token"
LANG_COOKIE = "cp_lang"

templates = Jinja2Templates(directory=str(_HERE / "templates"))
router = APIRouter(prefix="/web", include_in_schema=False)


@contextmanager
def _session(request: Request) -> Iterator[Session]:
    maker: sessionmaker[Session] = request.app.state.sessionmaker
    with maker() as s, s.begin():
        yield s


def _lang(request: Request) -> str:
    lang = request.cookies.get(LANG_COOKIE, DEFAULT_LANG)
    return lang if lang in LANGS else DEFAULT_LANG


def _principal(request: Request) -> Principal | None:
    token = request.cookies.get(TOKEN_COOKIE)
    if not token:
        return None
    try:
        with _session(request) as s:
            return auth.authenticate_token(s, request.app.state.security, token)
    except auth.AuthenticationFailed:
        return None


def _render(request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    lang = _lang(request)
    who: Principal | None = ctx.get("who")

    def t(key: str, **params: Any) -> str:
        return translate(lang, key, **params)

    menu = pages.menu(who.role) if who is not None else []
    response = templates.TemplateResponse(
        request,
        name,
        {"t": t, "lang": lang, "langs": LANGS, "menu": menu, "path": request.url.path, **ctx},
        status_code=status,
    )
    return response


def _to_login(request: Request) -> RedirectResponse:
    nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse("/web/login?" + urlencode({"next": nxt}), status_code=303)


def _safe_next(nxt: str | None) -> str:
    """Only a path of this dashboard (no open redirect)."""
    return nxt if nxt and nxt.startswith("/web/") and not nxt.startswith("//") else "/web/overview"


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    """The login form."""
    return _render(request, "login.html", next=_safe_next(next), error=None)


@router.post("/login", response_model=None)
def login(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    next: Annotated[str, Form(max_length=500)] = "/web/overview",
) -> Response:
    """Check the password with the API's auth service; set the token cookie."""
    client = request.client.host if request.client else "?"
    settings = request.app.state.security
    try:
        with _session(request) as s:
            issued = auth.issue_token(s, settings, username, password, client)
    except auth.Throttled as exc:
        return _render(request, "login.html", 429, next=_safe_next(next), error=("login.throttled", exc.retry_after))
    except auth.AuthenticationFailed:
        with _session(request) as s:
            auth.record_failure(s, username, client)
        return _render(request, "login.html", 401, next=_safe_next(next), error=("login.failed", 0))
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        TOKEN_COOKIE,
        issued.access_token,
        max_age=issued.expires_in,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/web",
    )
    return response


@router.post("/logout")
def logout(request: Request) -> RedirectResponse:
    """Revoke the token and forget the cookie."""
    who = _principal(request)
    token = request.cookies.get(TOKEN_COOKIE)
    if who is not None and token:
        with _session(request) as s:
            auth.revoke_token(s, request.app.state.security, token, who)
    response = RedirectResponse("/web/login", status_code=303)
    response.delete_cookie(TOKEN_COOKIE, path="/web")
    return response


@router.get("/lang/{lang}")
def set_lang(request: Request, lang: str, next: str | None = None) -> RedirectResponse:
    """Switch the language (``zh-CN`` or ``en``) and go back."""
    response = RedirectResponse(_safe_next(next) if next != "/web/login" else "/web/login", status_code=303)
    if lang in LANGS:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="strict", path="/web")
    return response


@router.get("/static/vendor/plotly.min.js")
def plotly_js() -> FileResponse:
    """plotly.js from the installed ``plotly`` wheel."""
    return FileResponse(PLOTLY_JS, media_type="text/javascript", headers={"cache-control": "max-age=86400"})


@router.get("/")
def home() -> RedirectResponse:
    """The park overview."""
    return RedirectResponse("/web/overview", status_code=303)


def _uploader(request: Request) -> Principal | Response:
    """The logged-in user allowed to upload, or the response that sends anyone else away."""
    who = _principal(request)
    if who is None:
        return _to_login(request)
    if not pages.allowed("upload", who.role):
        return _render(request, "error.html", 403, who=who, error=translate(_lang(request), "error.forbidden"))
    return who


@router.get("/upload", response_model=None)
def upload_form(request: Request) -> Response:
    """The upload page: a readings form and an activity-data form, each with its progress bar."""
    who = _uploader(request)
    if not isinstance(who, Principal):
        return who
    return _render(
        request,
        "upload.html",
        who=who,
        page_key="upload",
        activity_columns=", ".join((*ACTIVITY_COLUMNS, *UPLOAD_EXTRA)),
    )


async def _saved(file: UploadFile, tmp: str) -> tuple[str, Path]:
    """The upload written to ``tmp`` under its own suffix: (name as sent, path)."""
    name = Path(file.filename or "upload.csv").name
    path = Path(tmp) / f"upload{Path(name).suffix.lower()}"
    path.write_bytes(await file.read())
    return name, path


def _result(request: Request, who: Principal, heading: str, sections: list[pages.Section]) -> HTMLResponse:
    token = uploads.keep(who, sections)
    return _render(
        request,
        "page.html",
        who=who,
        page_key="upload",
        heading=heading,
        sections=sections,
        export_base=f"/web/upload/result/{token}/export.xlsx",
        result=True,
    )


async def _import(
    request: Request,
    file: UploadFile,
    run: Callable[[str | None, Path, Principal, str], dict[str, Any]],
    heading: str,
    sections: Callable[[dict[str, Any]], list[pages.Section]],
) -> Response:
    """Save the upload, run the import in a worker thread as the uploader, show its result page."""
    who = _uploader(request)
    if not isinstance(who, Principal):
        return who
    with tempfile.TemporaryDirectory() as tmp:
        name, path = await _saved(file, tmp)
        try:
            result = await run_in_threadpool(run, request.app.state.db, path, who, name)
        except CarbonparkError as exc:
            return _render(request, "error.html", 422, who=who, error=str(exc))
    return _result(request, who, f"{translate(_lang(request), heading)}: {name}", sections(result))


@router.post("/upload", response_model=None)
async def upload(request: Request, file: Annotated[UploadFile, File()]) -> Response:
    """Import an uploaded readings CSV/XLSX through the ingest pipeline; show the result and the quarantined rows."""

    def run(db: str | None, path: Path, who: Principal, _name: str) -> dict[str, Any]:
        return uploads.import_file(db, path, who)

    return await _import(request, file, run, "upload.result", uploads.readings_sections)


@router.post("/upload/activity", response_model=None)
async def upload_activity(request: Request, file: Annotated[UploadFile, File()]) -> Response:
    """Store an uploaded activity-data CSV/XLSX line by line; show what was stored and what was quarantined."""
    return await _import(request, file, import_activity_file, "upload.activity_result", uploads.activity_sections)


@router.get("/upload/activity-template.csv", response_model=None)
def activity_template(request: Request) -> Response:
    """A CSV to fill in for an activity-data upload (the uploader's enterprise and the latest accounted year)."""
    who = _uploader(request)
    if not isinstance(who, Principal):
        return who
    ctx = pages.Ctx(request.app.state.db, who, _lang(request), {})
    own = pages.enterprises_in_scope(ctx.db, who) if who.role == "enterprise" else []
    body = uploads.activity_template(str(own[0].handle) if own else "", pages.year_of(ctx))
    return Response(
        body.encode("utf-8-sig"),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="carbonpark-activity-template.csv"'},
    )


@router.get("/upload/result/{token}/export.xlsx", response_model=None)
def upload_export(request: Request, token: str, table: int = 0) -> Response:
    """A table of an upload's result page as an Excel workbook (the uploader's own results, for an hour)."""
    who = _uploader(request)
    if not isinstance(who, Principal):
        return who
    sections = uploads.kept(who, token)
    tables = [sec for sec in sections or [] if isinstance(sec, pages.Table)]
    if not 0 <= table < len(tables):
        return _render(request, "error.html", 404, who=who, error=translate(_lang(request), "error.not_found"))
    return _xlsx(_lang(request), tables[table], f"carbonpark-upload-{table + 1}.xlsx")


@router.get("/monitoring/stream", response_model=None)
async def monitoring_stream(request: Request, events: int = 60, interval: float = 10.0) -> Response:
    """The live overview as server-sent events (``event: overview``), for the monitoring page.

    The same document as ``GET /api/monitoring/stream`` (:func:`carbonpark.services.monitoring.overview`)
    with the cookie login; at most ``events`` events (≤ 360), ``interval`` seconds apart (≥ 2), then the
    browser's ``EventSource`` reconnects.
    """
    who = _principal(request)
    if who is None or not pages.allowed("monitoring", who.role):
        return Response(status_code=401)
    db = request.app.state.db
    count = max(1, min(events, 360))
    pause = max(2.0, min(interval, 600.0))

    def doc() -> dict[str, Any]:
        if who.role == "regulator":
            return {**mon.overview(db), "meters": [], "enterprises": {}}
        return mon.overview(db, who)

    async def stream() -> AsyncIterator[str]:
        for i in range(count):
            body = await run_in_threadpool(doc)
            yield f"retry: 10000\nevent: overview\ndata: {json.dumps(body, ensure_ascii=False, default=str)}\n\n"
            if i + 1 < count:
                if await request.is_disconnected():
                    return
                await asyncio.sleep(pause)

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"cache-control": "no-cache"})


@router.get("/{key}/export.xlsx", response_model=None)
def export(request: Request, key: str, table: int = 0) -> Response:
    """The ``table``-th table of a page as an Excel workbook (openpyxl), headers in the page's language."""
    who = _principal(request)
    if who is None:
        return _to_login(request)
    lang = _lang(request)
    if key not in pages.PAGES or not pages.allowed(key, who.role):
        return _render(request, "error.html", 404, who=who, error=translate(lang, "error.not_found"))
    sections = pages.build(key, pages.Ctx(request.app.state.db, who, lang, dict(request.query_params)))
    tables = [sec for sec in sections if isinstance(sec, pages.Table)]
    if not 0 <= table < len(tables):
        return _render(request, "error.html", 404, who=who, error=translate(lang, "error.not_found"))
    return _xlsx(lang, tables[table], f"carbonpark-{key}-{table + 1}.xlsx")


def sheet_title(text: str) -> str:
    """A worksheet name Excel accepts: none of ``[]:*?/\\``, at most 31 characters, not empty."""
    cleaned = "".join("(" if ch == "[" else ")" if ch == "]" else "-" if ch in ":*?/\\" else ch for ch in text)
    return cleaned.strip()[:31] or "table"


def _xlsx(lang: str, chosen: pages.Table, filename: str) -> Response:
    """One table as an Excel workbook (openpyxl): headers in ``lang``, cells as :func:`pages.plain` gives them."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = sheet_title(translate(lang, chosen.title))
    sheet.append([translate(lang, c) for c in chosen.columns])
    for row in chosen.rows:
        sheet.append([pages.plain(cell) for cell in row])
    buf = io.BytesIO()
    book.save(buf)
    return Response(
        buf.getvalue(),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/{key}/report.pdf", response_model=None)
def report_pdf(request: Request, key: str) -> Response:
    """The capability's PDF report, where it has one (:data:`downloads.REPORTS`)."""
    who = _principal(request)
    if who is None:
        return _to_login(request)
    lang = _lang(request)
    if key not in downloads.REPORTS or not pages.allowed(key, who.role):
        return _render(request, "error.html", 404, who=who, error=translate(lang, "error.not_found"))
    try:
        pdf, filename = downloads.REPORTS[key](pages.Ctx(request.app.state.db, who, lang, dict(request.query_params)))
    except CarbonparkError as exc:
        return _render(request, "error.html", 422, who=who, error=str(exc))
    return Response(
        pdf, media_type="application/pdf", headers={"content-disposition": f'attachment; filename="{filename}"'}
    )


@router.get("/{key}", response_model=None)
def page(request: Request, key: str) -> Response:
    """One page of the menu."""
    who = _principal(request)
    if who is None:
        return _to_login(request)
    lang = _lang(request)
    if key not in pages.PAGES:
        return _render(request, "error.html", 404, who=who, error=translate(lang, "error.not_found"))
    if not pages.allowed(key, who.role):
        return _render(request, "error.html", 403, who=who, error=translate(lang, "error.forbidden"))
    query = dict(request.query_params)
    sections = pages.build(key, pages.Ctx(request.app.state.db, who, lang, query))
    return _render(
        request,
        "page.html",
        who=who,
        page_key=key,
        sections=sections,
        query=urlencode(query),
        has_report=key in downloads.REPORTS,
        has_charts=any(isinstance(sec, pages.Chart) for sec in sections),
        live=key == "monitoring",
    )


def mount(app: FastAPI) -> None:
    """Add the dashboard to ``app`` (static files, routes, ``/`` → the overview)."""
    app.mount("/web/assets", StaticFiles(directory=str(_HERE / "static")), name="web-assets")
    app.include_router(router)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/web/overview", status_code=303)
