"""``/api/trading``: the park's administrative writes of issue 12 that the CLI has and ``trading.py`` lacks.

========================================= ============================= ==========================================
route                                     who                           service (the CLI command)
========================================= ============================= ==========================================
``POST /api/trading/allocations``         park_admin                    ``allocate`` (``allocate-stored``)
``POST /api/trading/statements``          park_admin                    ``import_statement`` (``statement``)
``PUT /api/trading/energy/caps``          park_admin; regulator: park   ``set_energy_cap`` (``energy-cap``)
``PUT /api/trading/energy/quotas``        park_admin                    ``set_product_quota`` (``quota``)
``POST /api/trading/energy/surrender``    park_admin; enterprise: own   ``surrender_energy_rights``
                                                                        (``energy-surrender``)
========================================= ============================= ==========================================

Why these roles: allocation books allowances into the park's mirror of the national registry and
a statement rewrites that mirror, so both are the park operator's (park_admin). The 能耗双控 target
of the park is set by the government above it (guide §8.1, 约束性指标), so a regulator may set the
park's caps (``org = "park"``); splitting it over enterprises is park_admin's. A product quota is the
limit an enterprise is judged against (能耗限额), so the enterprise does not set its own: park_admin
enters it. Energy-use rights are surrendered by their holder: an enterprise user for its own
enterprise (another enterprise is 404, its existence not revealed), park_admin for any. Verifiers
only read (``trading.py``), so every route here answers them 403.

Errors are problem documents (``api/problems.py``): a bad body is 422 naming the field (``errors``
of the request validation, or ``field`` of a :class:`~carbonpark.errors.ValidationError` raised by
the service, e.g. ``statement line 3.credit_code``), a statement imported twice 409.

References
----------
Guide §7.3 (碳交易), §2.2(4) (用能权), §8.1 (约束性指标); issue 12 item 5.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, File, Form, Request, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from carbonpark.api.deps import DbSession, User, read_upload
from carbonpark.errors import PermissionDenied, ValidationError
from carbonpark.services import access
from carbonpark.services import trading as svc

__all__ = ["ORDER", "router"]

#: Included after ``trading.py`` (order 100): its routes keep their place in the OpenAPI document.
ORDER = 101

router = APIRouter(prefix="/api/trading", tags=["trading"])

_Positive = Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]
_Year = Annotated[int, Field(ge=1990, le=2100)]
_Text = Annotated[str, Field(max_length=128)]


class AllocationEntryIn(BaseModel):
    """One enterprise of an allocation plan (the entries of ``allocate-stored``'s ``plan``)."""

    model_config = ConfigDict(extra="forbid")

    enterprise: _Text = Field(description="Enterprise id, handle, credit code or name.")
    method: Literal["benchmark", "power", "history"] = "benchmark"
    benchmark: _Positive | None = Field(default=None, description="benchmark: B [tCO2e per unit of output].")
    output_metric: _Text | None = Field(default=None, description="benchmark: statistic of the output Q.")
    correction_factors: list[_Positive] = Field(default_factory=list, max_length=20, description="F_i [-].")
    supply_benchmark: _Positive | None = Field(default=None, description="power: B_supply [tCO2/MWh].")
    power_metric: _Text | None = Field(default=None, description="power: statistic of power supplied [MWh].")
    heat_benchmark: Annotated[Decimal, Field(ge=0, allow_inf_nan=False)] | None = Field(
        default=None, description="power: B_heat [tCO2/GJ]."
    )
    heat_metric: _Text | None = Field(default=None, description="power: statistic of heat supplied [GJ].")
    base_years: list[_Year] = Field(default_factory=list, max_length=20, description="history: base years.")
    control_factor: _Positive | None = Field(default=None, description="history: control factor [-].")
    allow_unverified: bool = Field(default=False, description="history: use unlocked accounting runs.")


class AllocationIn(BaseModel):
    """An allocation plan: the vintage ``year`` and one entry per enterprise."""

    model_config = ConfigDict(extra="forbid")

    year: _Year
    plan: list[AllocationEntryIn] = Field(min_length=1, max_length=1000)


class EnergyCapIn(BaseModel):
    """能耗双控 caps of an enterprise or of the park for one year (at least one of the two)."""

    model_config = ConfigDict(extra="forbid")

    org: _Text = Field(description="Enterprise id, handle, credit code or name, or 'park'.")
    year: _Year
    total_tce: _Positive | None = Field(default=None, description="Total energy cap [tce].")
    intensity: _Positive | None = Field(default=None, description="Intensity cap [tce per 10⁴ CNY value added].")
    source: str = Field(default="", max_length=400, description="Where the caps come from (document, date).")


class QuotaIn(BaseModel):
    """A product energy-consumption limit (能耗限额) of an enterprise's product."""

    model_config = ConfigDict(extra="forbid")

    enterprise: _Text
    product: _Text
    output_metric: _Text = Field(description="Statistic counting the output, e.g. output:clinker.")
    limit: _Positive = Field(description="Limit value [kgce per product unit].")
    advanced: _Positive | None = Field(default=None, description="Advanced value [kgce per product unit].")
    unit: str = Field(default="t", min_length=1, max_length=32)
    standard: str = Field(default="", max_length=200, description="Standard and grade, e.g. GB 16780-2021 grade 3.")


class EnergySurrenderIn(BaseModel):
    """Who surrenders energy-use rights, for which year's stored energy."""

    model_config = ConfigDict(extra="forbid")

    enterprise: _Text
    year: _Year


@router.post("/allocations", summary="Allocate allowances by benchmark, power-sector or history method")
def post_allocations(s: DbSession, who: User, body: Annotated[AllocationIn, Body()]) -> dict[str, Any]:
    """Allowances of vintage ``year`` from stored statistics or verified emissions, booked and attested.

    benchmark ``B × Q × Π F_i``; power ``B_supply × E × Π F_i + B_heat × H``; history
    ``mean(E_base years) × control factor``; each rounded half-up to whole tonnes (park_admin).
    """
    access.require_role(who, "park_admin")
    plan = [entry.model_dump(exclude_none=True) for entry in body.plan]
    return svc.allocate(s, body.year, plan, actor=who.actor)


@router.post("/statements", summary="Import a national registry statement and reconcile (multipart)")
def post_statement(
    request: Request,
    s: DbSession,
    who: User,
    file: Annotated[
        UploadFile, File(description="CSV, UTF-8: statement_id,as_of,credit_code,asset,quantity (docs/trading.md).")
    ],
    align: Annotated[bool, Form(description="Book the corrections that make the park mirror equal the statement.")] = (
        False
    ),
) -> dict[str, Any]:
    """Differences (park minus national) per holder and asset; stored with the statement (park_admin)."""
    access.require_role(who, "park_admin")
    data = read_upload(request, file)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError("file", "a UTF-8 CSV", f"a byte 0x{data[exc.start]:02x} at {exc.start}") from None
    return svc.import_statement(s, text, actor=who.actor, align=align)


@router.put("/energy/caps", summary="Set the 能耗双控 caps of an enterprise or the park")
def put_energy_cap(s: DbSession, who: User, body: Annotated[EnergyCapIn, Body()]) -> dict[str, Any]:
    """Replaces the caps of ``org`` and ``year`` (park_admin; a regulator the park's own)."""
    access.require_role(who, "park_admin", "regulator")
    if who.role == "regulator" and body.org != svc.PARK_ORG:
        raise PermissionDenied("a regulator sets the park's caps (org 'park'); enterprise caps are park_admin's")
    return svc.set_energy_cap(s, body.org, body.year, body.total_tce, body.intensity, source=body.source)


@router.put("/energy/quotas", summary="Enter a product energy-consumption limit (能耗限额)")
def put_quota(s: DbSession, who: User, body: Annotated[QuotaIn, Body()]) -> dict[str, Any]:
    """Replaces the limit of the enterprise's product; checked by ``GET /api/trading/energy/quotas`` (park_admin)."""
    access.require_role(who, "park_admin")
    return svc.set_product_quota(
        s,
        body.enterprise,
        body.product,
        body.output_metric,
        body.limit,
        unit=body.unit,
        advanced_kgce_per_unit=body.advanced,
        standard=body.standard,
    )


@router.post("/energy/surrender", summary="Surrender energy-use rights (用能权) for the stored energy of a year")
def post_energy_surrender(s: DbSession, who: User, body: Annotated[EnergySurrenderIn, Body()]) -> dict[str, Any]:
    """Needed = stored energy rounded up to whole tce, oldest vintage first; shortfall if short (own or park_admin)."""
    access.require_role(who, "park_admin", "enterprise")
    return svc.surrender_energy_rights(s, body.enterprise, body.year, actor=who.actor, who=who)
