"""``/api/inventories`` and ``/api/verification``: the ten inventory steps and the verifier's workflow (issue 8).

Organisations are named by the ``org`` query parameter (enterprise id, handle, credit code or
name, or ``park``) and the reporting ``year``. Every route goes through the scope functions of
:mod:`carbonpark.services.inventory` (``org_in_scope``, ``assignment_in_scope``,
``finding_in_scope``, ``list_versions`` …): an enterprise user reaches only its own inventories,
a verifier only the enterprise-years it is assigned (``who.assignments``), a regulator only the
submitted or verified inventories and verification results of key emitters, park_admin all.
Outside the scope the answer is 404 (existence not revealed); a role that may not do a thing at
all gets 403.

References
----------
Guide §7.1 (the ten steps of 碳盘查), §7.2 (碳核查, continuous data-driven verification);
ISO 14064-1:2018 clause 9; ISO 14064-3:2019; docs/inventory.md, docs/api.md.
"""

from __future__ import annotations

import json
import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from carbonpark.api.deps import DbSession, User, read_upload
from carbonpark.errors import NotFoundError, ValidationError
from carbonpark.reports import inventory_report
from carbonpark.services import access
from carbonpark.services import inventory as svc

__all__ = ["MEDIA_TYPES", "inventories", "router", "verification"]

#: The inventory routes.
inventories = APIRouter(prefix="/api/inventories", tags=["inventory"])
#: The verification routes.
verification = APIRouter(prefix="/api/verification", tags=["verification"])

#: Media type of each report format.
MEDIA_TYPES = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}

_Org = Annotated[
    str, Query(min_length=1, max_length=128, description="Enterprise id, handle, credit code or name; or 'park'.")
]
_Year = Annotated[int, Query(ge=1990, le=2100, description="Reporting year (YYYY).")]
_Id = Annotated[int, Field(ge=1, le=access.MAX_ID)]
_Step = r"^[a-z_]{1,40}$"
_State = r"^(pending|in_progress|done)$"


class OrgYear(BaseModel):
    """An organisation-year."""

    org: str = Field(min_length=1, max_length=128, description="Enterprise id, handle, credit code or name; or 'park'.")
    year: int = Field(ge=1990, le=2100)


class StepIn(OrgYear):
    """Move one of the ten inventory steps."""

    step: str = Field(pattern=_Step, description="feasibility, boundary, base_year, sources, quantification, …")
    state: str = Field(pattern=_State)
    note: str = Field(default="", max_length=2000)


class ConfigureIn(OrgYear):
    """Boundaries, base year and guideline (steps 2 and 3); unset fields keep their value."""

    approach: str | None = Field(default=None, pattern=r"^(operational_control|financial_control|equity_share)$")
    shares: dict[str, Annotated[float, Field(ge=0, le=100)]] | None = Field(default=None, max_length=1000)
    uncontrolled: list[Annotated[str, Field(max_length=128)]] | None = Field(default=None, max_length=1000)
    included: list[Annotated[str, Field(pattern=r"^[1-6]$")]] | None = Field(default=None, max_length=6)
    excluded: dict[str, Annotated[str, Field(max_length=2000)]] | None = Field(default=None, max_length=6)
    significance_pct: float | None = Field(default=None, ge=0, le=100)
    base_year: int | None = Field(default=None, ge=1990, le=2100)
    threshold_pct: float | None = Field(default=None, gt=0, le=100)
    guideline: str | None = Field(default=None, max_length=64)


class NoteIn(OrgYear):
    note: str = Field(default="", max_length=2000)


class ReasonIn(OrgYear):
    reason: str = Field(min_length=1, max_length=2000)


class BodyIn(BaseModel):
    """A verification body (核查机构)."""

    name: str = Field(min_length=1, max_length=200)
    credit_code: str = Field(default="", max_length=18)
    accreditation: str = Field(default="", max_length=200)


class VerifierUserIn(BaseModel):
    verifier: str = Field(min_length=1, max_length=200, description="Verification body id or name.")
    name: str = Field(min_length=1, max_length=100)
    role: str = Field(default="member", pattern=r"^(lead|member|technical_reviewer)$")


class AssignIn(OrgYear):
    verifier: str = Field(min_length=1, max_length=200, description="Verification body id or name.")
    lead: str | None = Field(default=None, max_length=100)


class VStepIn(BaseModel):
    step: str = Field(pattern=_Step, description="agreement, preparation, document_review, site_visit, …")
    state: str = Field(pattern=_State)
    note: str = Field(default="", max_length=2000)


class FindingIn(BaseModel):
    severity: str = Field(pattern=r"^(major|minor|observation)$")
    description: str = Field(min_length=1, max_length=4000)
    misstatement_tco2e: float = Field(default=0.0, ge=-1e12, le=1e12)
    ref: str = Field(default="", max_length=200)


class CorrectionIn(BaseModel):
    correction: str = Field(min_length=1, max_length=4000)


class StatusIn(BaseModel):
    status: str = Field(pattern=r"^(open|closed)$")


class StatementIn(BaseModel):
    level: str = Field(default="reasonable", pattern=r"^(reasonable|limited)$")
    materiality_pct: float = Field(default=5.0, gt=0, le=100)


# ---------------------------------------------------------------- inventories


@inventories.get("", summary="Inventory versions in scope")
def get_versions_page(
    s: DbSession,
    who: User,
    year: Annotated[int | None, Query(ge=1990, le=2100)] = None,
    status: Annotated[str | None, Query(pattern=r"^(draft|submitted|verified)$")] = None,
    limit: Annotated[int, Query(ge=1, le=access.MAX_LIMIT)] = 50,
    offset: Annotated[int, Query(ge=0, le=access.MAX_OFFSET)] = 0,
) -> dict[str, Any]:
    """Stored versions, newest year first; a regulator sees submitted/verified versions of key emitters only."""
    return svc.list_versions(s, who, year=year, status=status, limit=limit, offset=offset)


@inventories.get("/build", summary="The inventory of an organisation-year (build --json)")
def get_build(
    s: DbSession,
    who: User,
    org: _Org,
    year: _Year,
    uncertainty: Annotated[str, Query(pattern=r"^approach[12]$")] = "approach1",
) -> dict[str, Any]:
    """``{org, year, total_tco2e, by_category, by_gas, removals_tco2e, biogenic_co2_t, uncertainty}``.

    The frozen version when the year is submitted or verified, else compiled now from the stored data.
    """
    key, _ent = svc.org_in_scope(s, who, org, year)
    svc.require_frozen(s, who, key, year)
    return svc.build(s, key, year, method=uncertainty).document


@inventories.get("/steps", summary="The ten steps with state, who and when")
def get_steps(s: DbSession, who: User, org: _Org, year: _Year) -> list[dict[str, Any]]:
    """Guide §7.1: feasibility … external_verification."""
    key, _ent = svc.org_in_scope(s, who, org, year)
    svc.require_frozen(s, who, key, year)
    return svc.steps(s, key, year)


@inventories.post("/steps", summary="Move one inventory step")
def post_step(s: DbSession, who: User, body: Annotated[StepIn, Body()]) -> list[dict[str, Any]]:
    """A step starts when the previous one is done; ``compilation`` done saves a draft (park_admin, enterprise)."""
    access.require_role(who, *svc.INVENTORY_WRITERS)
    key, _ent = svc.org_in_scope(s, who, body.org, body.year, write=True)
    return svc.step(s, key, body.year, body.step, body.state, actor=who.actor, note=body.note)


@inventories.post("/configure", summary="Boundaries, base year and guideline (steps 2, 3)")
def post_configure(s: DbSession, who: User, body: Annotated[ConfigureIn, Body()]) -> dict[str, Any]:
    """Organisational and operational boundary, base year and recalculation threshold (park_admin, enterprise)."""
    access.require_role(who, *svc.INVENTORY_WRITERS)
    key, _ent = svc.org_in_scope(s, who, body.org, body.year, write=True)
    return svc.configure(
        s,
        key,
        body.year,
        actor=who.actor,
        approach=body.approach,
        shares=body.shares,
        uncontrolled=body.uncontrolled,
        included=body.included,
        excluded=body.excluded,
        significance_pct=body.significance_pct,
        base_year=body.base_year,
        threshold_pct=body.threshold_pct,
        guideline=body.guideline,
    )


@inventories.get("/versions", summary="Every version of an organisation-year")
def get_versions(s: DbSession, who: User, org: _Org, year: _Year) -> list[dict[str, Any]]:
    """Oldest first: draft, submitted, verified; a reopened version supersedes a frozen one."""
    key, _ent = svc.org_in_scope(s, who, org, year)
    rows = svc.versions(s, key, year)
    return [v for v in rows if v["status"] in svc.FROZEN] if svc.frozen_only(who) else rows


@inventories.post("/versions", summary="Save the compiled inventory as the open draft")
def post_version(s: DbSession, who: User, body: Annotated[NoteIn, Body()]) -> dict[str, Any]:
    """A new draft, or the open draft replaced in place (park_admin, enterprise)."""
    access.require_role(who, *svc.INVENTORY_WRITERS)
    key, _ent = svc.org_in_scope(s, who, body.org, body.year, write=True)
    return svc.save_version(s, key, body.year, actor=who.actor, note=body.note)


@inventories.post("/submit", summary="Freeze the open draft as submitted")
def post_submit(s: DbSession, who: User, body: Annotated[OrgYear, Body()]) -> dict[str, Any]:
    """Needs step internal_review done; attested in the ledger (park_admin, enterprise)."""
    access.require_role(who, *svc.INVENTORY_WRITERS)
    key, _ent = svc.org_in_scope(s, who, body.org, body.year, write=True)
    return svc.submit(s, key, body.year, actor=who.actor)


@inventories.post("/reopen", summary="Start a new draft superseding the frozen version")
def post_reopen(s: DbSession, who: User, body: Annotated[ReasonIn, Body()]) -> dict[str, Any]:
    """The frozen version stays as it was (park_admin, enterprise)."""
    access.require_role(who, *svc.INVENTORY_WRITERS)
    key, _ent = svc.org_in_scope(s, who, body.org, body.year, write=True)
    return svc.reopen(s, key, body.year, actor=who.actor, reason=body.reason)


@inventories.get("/recalculation", summary="Base year as reported against the base year compiled again")
def get_recalculation(s: DbSession, who: User, org: _Org, year: _Year) -> dict[str, Any]:
    """Side by side, with whether the policy's threshold triggers a recalculation."""
    access.require_role(who, "park_admin", "enterprise", "verifier")
    key, _ent = svc.org_in_scope(s, who, org, year)
    return svc.recalculation(s, key, year)


@inventories.get(
    "/report",
    summary="The inventory report as HTML, PDF or Excel",
    response_class=Response,
    responses={200: {"content": {MEDIA_TYPES[f]: {} for f in ("html", "pdf", "xlsx")}}},
)
def get_report(
    s: DbSession,
    who: User,
    org: _Org,
    year: _Year,
    format: Annotated[str, Query(pattern=r"^(html|pdf|xlsx)$")] = "pdf",
    lang: Annotated[str, Query(pattern=r"^(zh|en)$")] = "zh",
) -> Response:
    """ISO 14064-1 content items (English), the MEE layout (Chinese); a regulator gets submitted reports only."""
    key, _ent = svc.org_in_scope(s, who, org, year)
    svc.require_frozen(s, who, key, year)
    detail, context = svc.report_context(s, key, year, format)
    with tempfile.TemporaryDirectory(prefix="cp-report-") as tmp:
        path = inventory_report.write_report(detail, Path(tmp) / f"report.{format}", fmt=format, lang=lang, **context)
        data = path.read_bytes()
    name = f"inventory-{key.replace('/', '_')}-{year}-{lang}.{format}"
    return Response(
        data, media_type=MEDIA_TYPES[format], headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@inventories.get(
    "/deposit",
    summary="The monthly data deposit (信息化存证) as CSV or Excel",
    response_class=Response,
    responses={200: {"content": {MEDIA_TYPES[f]: {} for f in ("csv", "xlsx")}}},
)
def get_deposit(
    s: DbSession,
    who: User,
    org: _Org,
    year: _Year,
    month: Annotated[int, Query(ge=1, le=12)],
    format: Annotated[str, Query(pattern=r"^(csv|xlsx)$")] = "csv",
) -> Response:
    """One row per source and parameter of the month (docs/inventory.md, layout); park_admin and the enterprise."""
    access.require_role(who, "park_admin", "enterprise", "verifier")
    key, ent = svc.org_in_scope(s, who, org, year)
    if ent is None:
        raise ValidationError("org", "an enterprise (deposits are per enterprise)", org)
    with tempfile.TemporaryDirectory(prefix="cp-deposit-") as tmp:
        out = svc.deposit(s, key, year, month, Path(tmp) / f"deposit.{format}", actor=who.actor, attest=False)
        data = Path(out["out"]).read_bytes()
    name = f"deposit-{key.replace('/', '_')}-{year}-{month:02d}.{format}"
    return Response(
        data, media_type=MEDIA_TYPES[format], headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@inventories.get("/key-emitters", summary="Enterprises at or above 26,000 tCO2e")
def get_key_emitters(s: DbSession, who: User, year: _Year) -> list[dict[str, Any]]:
    """The key-emitter list of the year (park_admin, regulator)."""
    access.require_role(who, "park_admin", "regulator")
    return svc.key_emitter_list(s, year)


@inventories.get("/calendar", summary="Reporting deadlines and reminders")
def get_calendar(
    s: DbSession,
    who: User,
    year: _Year,
    today: Annotated[date | None, Query(description="Day to judge reminders on (default today).")] = None,
) -> list[dict[str, Any]]:
    """Report by 31 March, verification by 30 June of the next year; organisations in scope only."""
    return svc.calendar(s, year, today, who=who)


# ---------------------------------------------------------------- verification


@verification.get("/assignments", summary="Verification assignments in scope")
def get_assignments(
    s: DbSession, who: User, year: Annotated[int | None, Query(ge=1990, le=2100)] = None
) -> list[dict[str, Any]]:
    """A verifier sees its assigned enterprise-years, an enterprise its own, a regulator key emitters'."""
    return svc.list_assignments(s, who, year=year)


@verification.post("/bodies", summary="Register a verification body")
def post_body(s: DbSession, who: User, body: Annotated[BodyIn, Body()]) -> dict[str, Any]:
    """核查机构 (park_admin)."""
    access.require_role(who, "park_admin")
    return svc.add_verifier(s, body.name, credit_code=body.credit_code, accreditation=body.accreditation)


@verification.post("/verifiers", summary="Add a person to a verification body")
def post_verifier_user(s: DbSession, who: User, body: Annotated[VerifierUserIn, Body()]) -> dict[str, Any]:
    """Lead, member or technical reviewer (park_admin)."""
    access.require_role(who, "park_admin")
    return svc.add_verifier_user(s, body.verifier, body.name, body.role)


@verification.post("/assignments", summary="Assign a verification body to an organisation-year")
def post_assignment(s: DbSession, who: User, body: Annotated[AssignIn, Body()]) -> dict[str, Any]:
    """park_admin; the verifier's login also needs the enterprise-year (``POST /api/users/{ref}/assignments``)."""
    access.require_role(who, "park_admin")
    return svc.assign_verifier(s, body.verifier, body.org, body.year, actor=who.actor, lead=body.lead)


_Assignment = Annotated[int, Query(ge=1, le=access.MAX_ID, description="Verification assignment id.")]


@verification.get("/steps", summary="The eight verification steps")
def get_vsteps(s: DbSession, who: User, assignment: _Assignment) -> list[dict[str, Any]]:
    """Agreement … record keeping, with state, who and when (guide §7.2)."""
    a = svc.assignment_in_scope(s, who, assignment)
    return svc.verification_steps(s, a.id)


@verification.post("/steps", summary="Move one verification step")
def post_vstep(
    s: DbSession, who: User, assignment: _Assignment, body: Annotated[VStepIn, Body()]
) -> list[dict[str, Any]]:
    """``delivery`` done keeps the records five years (park_admin, verifier)."""
    a = svc.assignment_in_scope(s, who, assignment, write=True)
    return svc.verification_step(s, a.id, body.step, body.state, actor=who.actor, note=body.note)


@verification.post("/documents", summary="Upload evidence (multipart)")
def post_document(
    request: Request,
    s: DbSession,
    who: User,
    assignment: _Assignment,
    file: Annotated[UploadFile, File(description="Invoice, weighing record, lab report … (at most the body limit).")],
    kind: Annotated[str, Form(pattern=r"^(invoice|purchase|weighing|lab_ncv|lab_carbon|meter_calibration|other)$")],
    meta: Annotated[str, Form(max_length=4000, description="JSON object: source, amount, unit, fuel, batch …")] = "{}",
) -> dict[str, Any]:
    """Stored in the database with its sha256 and what it supports (park_admin, the enterprise, its verifier)."""
    a = svc.assignment_in_scope(s, who, assignment)
    access.require_role(who, "park_admin", "enterprise", "verifier")
    try:
        fields = json.loads(meta)
    except json.JSONDecodeError as exc:
        raise ValidationError("meta", "a JSON object", meta[:80]) from exc
    if not isinstance(fields, dict):
        raise ValidationError("meta", "a JSON object", type(fields).__name__)
    data = read_upload(request, file)
    org = a.enterprise_id if a.enterprise_id is not None else svc.PARK
    return svc.store_document(
        s, org, a.year, file.filename or "document", data, kind=kind, actor=who.actor, meta=fields, as_blob=True
    )


@verification.get("/documents", summary="Evidence documents of an assignment's organisation-year")
def get_documents(s: DbSession, who: User, assignment: _Assignment) -> list[dict[str, Any]]:
    """Without the bytes: kind, file name, sha256, size, what it supports."""
    a = svc.assignment_in_scope(s, who, assignment)
    return svc.list_documents(s, a.enterprise_id if a.enterprise_id is not None else svc.PARK, a.year)


@verification.post("/checks", summary="Run the automated cross-checks")
def post_checks(s: DbSession, who: User, assignment: _Assignment) -> dict[str, Any]:
    """Activity vs meters and documents, NCV batches, year-on-year, industry outliers, energy balance.

    Failed items become findings (park_admin, verifier).
    """
    a = svc.assignment_in_scope(s, who, assignment, write=True)
    return svc.run_checks(s, a.id, actor=who.actor)


@verification.get("/findings", summary="Findings of an assignment")
def get_findings(s: DbSession, who: User, assignment: _Assignment) -> list[dict[str, Any]]:
    """Oldest first, with severity, misstatement [tCO2e], status and correction."""
    a = svc.assignment_in_scope(s, who, assignment)
    return svc.list_findings(s, a.id)


@verification.post("/findings", summary="Record a finding")
def post_finding(
    s: DbSession, who: User, assignment: _Assignment, body: Annotated[FindingIn, Body()]
) -> dict[str, Any]:
    """Major, minor or observation (park_admin, verifier)."""
    a = svc.assignment_in_scope(s, who, assignment, write=True)
    return svc.add_finding(
        s,
        a.id,
        body.severity,
        body.description,
        actor=who.actor,
        misstatement_tco2e=body.misstatement_tco2e,
        ref=body.ref,
    )


_Finding = Annotated[int, Query(ge=1, le=access.MAX_ID, description="Finding id.")]


@verification.post("/findings/correction", summary="The enterprise's correction of a finding")
def post_correction(
    s: DbSession, who: User, finding: _Finding, body: Annotated[CorrectionIn, Body()]
) -> dict[str, Any]:
    """The finding becomes ``corrected`` (park_admin, the enterprise)."""
    access.require_role(who, *svc.INVENTORY_WRITERS)
    row = svc.finding_in_scope(s, who, finding)
    return svc.correct_finding(s, row.id, body.correction, actor=who.actor)


@verification.post("/findings/status", summary="Close a finding or open it again")
def post_finding_status(
    s: DbSession, who: User, finding: _Finding, body: Annotated[StatusIn, Body()]
) -> dict[str, Any]:
    """The verifier accepts a correction (``closed``) or rejects it (``open``) (park_admin, verifier)."""
    access.require_role(who, *svc.VERIFICATION_WRITERS)
    row = svc.finding_in_scope(s, who, finding)
    return svc.set_finding_status(s, row.id, body.status, actor=who.actor)


@verification.post("/statement", summary="Issue the verification statement")
def post_statement(
    s: DbSession, who: User, assignment: _Assignment, body: Annotated[StatementIn, Body()]
) -> dict[str, Any]:
    """Needs technical_review done and a submitted inventory, which becomes verified (park_admin, verifier)."""
    a = svc.assignment_in_scope(s, who, assignment, write=True)
    return svc.issue_statement(
        s, a.id, actor=who.actor, level_of_assurance=body.level, materiality_pct=body.materiality_pct
    )


@verification.get("/statement", summary="The newest verification statement of an organisation-year")
def get_statement(s: DbSession, who: User, org: _Org, year: _Year) -> dict[str, Any]:
    """Opinion, level of assurance, materiality, findings; a regulator sees key emitters' only."""
    key, _ent = svc.org_in_scope(s, who, org, year)
    doc = svc.latest_statement(s, key, year)
    if doc is None:
        raise NotFoundError("verification statement", f"{key} {year}")
    return doc


@verification.get("/diff", summary="What changed since the last verified version")
def get_diff(s: DbSession, who: User, org: _Org, year: _Year) -> dict[str, Any]:
    """Continuous verification: the verified version against the inventory compiled now (not the regulator)."""
    access.require_role(who, "park_admin", "enterprise", "verifier")
    key, _ent = svc.org_in_scope(s, who, org, year)
    return svc.verify_diff(s, key, year)


#: What ``create_app`` discovers: both groups.
router = APIRouter()
router.include_router(inventories)
router.include_router(verification)
