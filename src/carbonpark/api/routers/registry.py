"""Registry resources: parks, enterprises, sites, meters, sources, products (issue 3 item 1).

``GET /api/<resource>`` lists one page (``limit``, ``offset``, ``sort``, equality filters);
``GET /api/<resource>/{ref}`` takes the numeric id or the Handle identifier, slash included
(``/api/meters/88.1234/meter.17``). Every query goes through :mod:`carbonpark.services.access`,
which filters it by the caller's enterprise scope.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from carbonpark.api.deps import DbSession, Paging, User, paging_for, read_connection
from carbonpark.services import access

__all__ = ["ORDER", "router"]

#: Included after every other router: its ``{ref:path}`` routes would otherwise swallow
#: more specific paths such as ``/api/meters/{id}/something`` of another capability.
ORDER = 1000

router = APIRouter(prefix="/api", tags=["registry"])

Ref = Annotated[
    str,
    Path(
        description="Numeric id or Handle identifier such as 88.1234/meter.17 (the slash is part of the path).",
        min_length=1,
        max_length=128,
    ),
]
EnterpriseFilter = Annotated[
    str | None, Query(max_length=128, description="Enterprise id, handle, credit code or name.")
]


ParkPage = Annotated[Paging, Depends(paging_for(access.RESOURCES["parks"].sort_fields))]
EnterprisePage = Annotated[Paging, Depends(paging_for(access.RESOURCES["enterprises"].sort_fields))]
SitePage = Annotated[Paging, Depends(paging_for(access.RESOURCES["sites"].sort_fields))]
MeterPage = Annotated[Paging, Depends(paging_for(access.RESOURCES["meters"].sort_fields))]
SourcePage = Annotated[Paging, Depends(paging_for(access.RESOURCES["sources"].sort_fields))]
ProductPage = Annotated[Paging, Depends(paging_for(access.RESOURCES["products"].sort_fields))]


def _list(s: Any, who: access.Principal, name: str, page: Paging, **filters: Any) -> dict[str, Any]:
    return access.list_rows(
        s, who, name, filters=filters, sort=page.sort, limit=page.limit, offset=page.offset
    ).to_dict()


@router.get("/parks", summary="List parks")
def list_parks(s: DbSession, who: User, page: ParkPage) -> dict[str, Any]:
    """Parks (every role but device)."""
    return _list(s, who, "parks", page)


@router.get("/parks/{ref:path}/summary", summary="Aggregates of a park")
def park_summary(s: DbSession, who: User, ref: Ref) -> dict[str, Any]:
    """Counts, key emitters and the span of readings (park administrators and regulators)."""
    return access.park_summary(s, who, ref)


@router.get("/enterprises", summary="List enterprises")
def list_enterprises(
    s: DbSession,
    who: User,
    page: EnterprisePage,
    key_emitter: Annotated[bool | None, Query(description="Only key emitters (true) or only others (false).")] = None,
    industry_code: Annotated[str | None, Query(max_length=8, description="GB/T 4754 industry code.")] = None,
) -> dict[str, Any]:
    """Enterprises in scope: all (admin), one's own (enterprise), assigned (verifier), key emitters (regulator)."""
    return _list(s, who, "enterprises", page, key_emitter=key_emitter, industry_code=industry_code)


@router.get("/sites", summary="List sites")
def list_sites(
    s: DbSession,
    who: User,
    page: SitePage,
    enterprise: EnterpriseFilter = None,
    kind: Annotated[str | None, Query(max_length=32)] = None,
) -> dict[str, Any]:
    """Sites, buildings and workshops in scope."""
    return _list(s, who, "sites", page, enterprise=enterprise, kind=kind)


@router.get("/meters", summary="List meters")
def list_meters(
    s: DbSession,
    who: User,
    page: MeterPage,
    enterprise: EnterpriseFilter = None,
    quantity: Annotated[str | None, Query(max_length=32, description="energy, volume, mass, …")] = None,
    code: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    """Meters in scope."""
    return _list(s, who, "meters", page, enterprise=enterprise, quantity=quantity, code=code)


@router.get("/sources", summary="List emission sources")
def list_sources(
    s: DbSession,
    who: User,
    page: SourcePage,
    enterprise: EnterpriseFilter = None,
    activity: Annotated[str | None, Query(max_length=64)] = None,
    scope: Annotated[int | None, Query(ge=1, le=3, description="GHG Protocol scope 1, 2 or 3.")] = None,
) -> dict[str, Any]:
    """Emission sources in scope."""
    return _list(s, who, "sources", page, enterprise=enterprise, activity=activity, scope=scope)


@router.get("/products", summary="List products")
def list_products(
    s: DbSession,
    who: User,
    page: ProductPage,
    enterprise: EnterpriseFilter = None,
    code: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    """Products in scope."""
    return _list(s, who, "products", page, enterprise=enterprise, code=code)


def _getter(name: str) -> Any:
    # async with one inline indexed lookup (by primary key or the unique handle): no thread-pool
    # hop, the principal comes from the cache (issue 3 item 8, bench/api_read.py)
    async def get_one(request: Request, who: User, ref: Ref) -> dict[str, Any]:
        with read_connection(request) as conn:
            return access.get_row(conn, who, name, ref)

    get_one.__name__ = f"get_{name}"
    get_one.__doc__ = f"One {access.RESOURCES[name].kind} by numeric id or Handle identifier (404 outside your scope)."
    return get_one


for _name in access.RESOURCES:
    router.add_api_route(
        f"/{_name}/{{ref:path}}", _getter(_name), methods=["GET"], summary=f"One {access.RESOURCES[_name].kind}"
    )
