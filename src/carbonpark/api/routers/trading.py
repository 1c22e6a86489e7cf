"""``/api/trading``: the park registry, compliance, the energy side and the park market (issue 12).

Reads are scoped by principal (docs/api.md): an enterprise user sees only its own accounts,
movements, orders, trades, compliance and energy documents; park_admin sees everything.
Writes that move holdings on the park's authority (allocation, deposits, caps, quotas,
statements) are park_admin only; an enterprise user may place and cancel its own orders,
transfer from its own accounts and surrender for itself.

The lists (movements, orders, trades) are pages like every list: ``limit``, ``offset``, ``sort``
and ``{items, total, limit, offset, next_offset}`` (docs/api.md).

References
----------
Guide §7.3 (碳交易), §2.2(4) (用能权), §8.1 (约束性指标).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel, Field

from carbonpark.api.deps import DbSession, Paging, User, paging_for
from carbonpark.services import access
from carbonpark.services import trading as svc

__all__ = ["router"]

router = APIRouter(prefix="/api/trading", tags=["trading"])

_Year = Annotated[int, Query(ge=1990, le=2100, description="Year.")]
_Asset = Annotated[str, Query(max_length=40, pattern=r"^[a-z_]+(:\d{4})?$", description="e.g. allowance:2025")]
_Market = Annotated[str, Query(max_length=32, pattern=r"^(park_internal|national_simulation)$")]
_Ref = Annotated[str, Query(max_length=128, description="Enterprise id, handle, credit code or name.")]
MovementPage = Annotated[Paging, Depends(paging_for(svc.MOVEMENT_SORT, default_limit=100, default_sort="-id"))]
TradePage = Annotated[Paging, Depends(paging_for(svc.TRADE_SORT, default_limit=100, default_sort="-seq"))]
OrderPage = Annotated[Paging, Depends(paging_for(svc.ORDER_SORT, default_limit=1000, default_sort="-seq"))]


class TransferIn(BaseModel):
    from_enterprise: str = Field(max_length=128)
    to_enterprise: str = Field(max_length=128)
    asset: str = Field(max_length=40)
    amount: str = Field(max_length=32)


class IssueIn(BaseModel):
    enterprise: str = Field(max_length=128)
    asset: str = Field(max_length=40)
    amount: str = Field(max_length=32)
    reason: str = Field(default="allocation", pattern=r"^(allocation|deposit)$")


class OrderIn(BaseModel):
    enterprise: str = Field(max_length=128)
    side: str = Field(pattern=r"^(buy|sell)$")
    asset: str = Field(max_length=40)
    quantity: int = Field(ge=1, le=10**12)
    price: str | None = Field(default=None, max_length=32)
    id: str | None = Field(default=None, max_length=64)
    market: str = Field(default="park_internal", pattern=r"^(park_internal|national_simulation)$")


class SurrenderIn(BaseModel):
    enterprise: str = Field(max_length=128)
    year: int = Field(ge=1990, le=2100)
    allowances: int = Field(ge=0, le=10**12)
    ccer: int = Field(default=0, ge=0, le=10**12)
    programme: str = Field(default="national-ets-2024", max_length=40)


@router.get("/balances", summary="Holdings per enterprise and asset")
def get_balances(s: DbSession, who: User, enterprise: _Ref | None = None) -> dict[str, Any]:
    """``accounts``: ``{enterprise: {asset: {available, reserved, total}}}`` (own accounts for an enterprise user)."""
    access.require_role(who, "park_admin", "enterprise", "verifier")
    return svc.balances(s, who, enterprise)


@router.get("/movements", summary="The double-entry journal")
def get_movements(
    s: DbSession,
    who: User,
    page: MovementPage,
    enterprise: _Ref | None = None,
) -> dict[str, Any]:
    """Movements, newest first by default; ``record`` is what ``/api/ledger/proof?record=`` takes."""
    access.require_role(who, "park_admin", "enterprise", "verifier")
    return svc.movements_page(s, who, enterprise, sort=page.sort, limit=page.limit, offset=page.offset).to_dict()


@router.get("/trial-balance", summary="Sum of every account per asset")
def get_trial_balance(s: DbSession, who: User) -> dict[str, Any]:
    """All sums are zero when the books are sound (park_admin)."""
    access.require_role(who, "park_admin")
    return svc.trial_balance(s)


@router.post("/issue", summary="Allocate or deposit into an enterprise account")
def post_issue(s: DbSession, who: User, body: Annotated[IssueIn, Body()]) -> dict[str, Any]:
    """One attested movement from ``@external`` (park_admin)."""
    access.require_role(who, "park_admin")
    return svc.issue(s, body.enterprise, body.asset, body.amount, actor=who.actor, reason=body.reason)


@router.post("/transfers", summary="Transfer between enterprises")
def post_transfer(s: DbSession, who: User, body: Annotated[TransferIn, Body()]) -> dict[str, Any]:
    """Double-entry transfer; an enterprise user may give only from its own accounts."""
    access.require_role(who, "park_admin", "enterprise")
    return svc.transfer(s, body.from_enterprise, body.to_enterprise, body.asset, body.amount, actor=who.actor, who=who)


@router.post("/surrender", summary="Surrender allowances and CCER for a compliance year")
def post_surrender(s: DbSession, who: User, body: Annotated[SurrenderIn, Body()]) -> dict[str, Any]:
    """Against stored verified emissions; CCER ≤ floor(5 % × verified); status compliant, shortfall or rejected."""
    access.require_role(who, "park_admin", "enterprise")
    return svc.surrender(
        s, body.enterprise, body.year, body.allowances, body.ccer, actor=who.actor, programme=body.programme, who=who
    )


@router.get("/compliance", summary="Compliance position and deadlines per enterprise")
def get_compliance(s: DbSession, who: User, year: _Year) -> list[dict[str, Any]]:
    """Obligation, holdings, position, latest outcome and days to each deadline."""
    access.require_role(who, "park_admin", "enterprise", "verifier")
    return svc.compliance_status(s, year, who=who)


@router.get("/compliance/statement", summary="Compliance statement of one enterprise")
def get_statement(s: DbSession, who: User, enterprise: _Ref, year: _Year) -> dict[str, Any]:
    """Allocation, trades, holdings, surrender results and deadlines."""
    access.require_role(who, "park_admin", "enterprise", "verifier")
    return svc.compliance_statement(s, enterprise, year, who)


@router.get("/energy/position", summary="能耗双控 year-to-date position")
def get_energy_position(
    s: DbSession, who: User, year: _Year, org: Annotated[str, Query(max_length=128)] = "park"
) -> dict[str, Any]:
    """``org`` is an enterprise or ``park`` (park_admin, regulator)."""
    return svc.energy_position(s, org, year, who)


@router.get("/energy/key-units", summary="Key energy-consuming units")
def get_key_units(s: DbSession, who: User, year: _Year) -> list[dict[str, Any]]:
    """Enterprises with stored energy ≥ 10,000 tce (park_admin, regulator)."""
    access.require_role(who, "park_admin", "regulator")
    return svc.key_energy_units(s, year)


@router.get("/energy/quotas", summary="Product energy quotas against metered use")
def get_quotas(s: DbSession, who: User, year: _Year) -> list[dict[str, Any]]:
    """Each quota with unit consumption, limit and status (own products for an enterprise user)."""
    access.require_role(who, "park_admin", "enterprise")
    return svc.check_product_quotas(s, year, who)


@router.get("/energy/report", summary="Energy-use status report content")
def get_energy_report(s: DbSession, who: User, enterprise: _Ref, year: _Year) -> dict[str, Any]:
    """Sections basic, consumption, intensity, products, dual_control, energy_rights."""
    access.require_role(who, "park_admin", "enterprise")
    return svc.energy_status_report(s, enterprise, year, who)


@router.post("/orders", summary="Place an order in the park market")
def post_order(s: DbSession, who: User, body: Annotated[OrderIn, Body()]) -> dict[str, Any]:
    """Limit (with price) or market order; validated against stored holdings and cash, settled atomically."""
    access.require_role(who, "park_admin", "enterprise")
    return svc.place_order(
        s,
        body.enterprise,
        body.side,
        body.asset,
        body.quantity,
        body.price,
        actor=who.actor,
        order_type="limit" if body.price is not None else "market",
        order_ref=body.id,
        market=body.market,
        who=who,
    )


@router.get("/orders", summary="Orders of the park market")
def get_orders(
    s: DbSession,
    who: User,
    page: OrderPage,
    market: _Market = "park_internal",
    status: Annotated[str | None, Query(pattern=r"^(open|filled|cancelled)$")] = None,
) -> dict[str, Any]:
    """Newest first by default; an enterprise user sees its own."""
    access.require_role(who, "park_admin", "enterprise")
    return svc.orders_page(s, who, status, market, sort=page.sort, limit=page.limit, offset=page.offset).to_dict()


@router.post("/orders/{order_id}/cancel", summary="Cancel an open order")
def post_cancel(s: DbSession, who: User, order_id: str, market: _Market = "park_internal") -> dict[str, Any]:
    """The remaining reservation is given back (attested)."""
    access.require_role(who, "park_admin", "enterprise")
    return svc.cancel_order(s, order_id[:64], actor=who.actor, market=market, who=who)


@router.get("/trades", summary="Trade history")
def get_trades(
    s: DbSession,
    who: User,
    page: TradePage,
    asset: _Asset | None = None,
    market: _Market = "park_internal",
) -> dict[str, Any]:
    """Newest first by default; an enterprise user sees the trades it is a party to."""
    access.require_role(who, "park_admin", "enterprise")
    return svc.trades_page(s, who, asset, market, sort=page.sort, limit=page.limit, offset=page.offset).to_dict()


@router.get("/market", summary="Market data")
def get_market(s: DbSession, who: User, asset: _Asset, market: _Market = "park_internal") -> dict[str, Any]:
    """Last price, depth and daily OHLC (no account names)."""
    access.require_role(who, "park_admin", "enterprise", "regulator")
    doc = svc.market_data(s, asset, market)
    return doc
