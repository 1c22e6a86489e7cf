"""A small typed client of the carbonpark REST API (issue 3 item 6; SPEC C21), on httpx.

>>> from carbonpark.client import Client                      # doctest: +SKIP
>>> with Client("http://127.0.0.1:8000") as api:                # doctest: +SKIP
...     api.login("demo-admin", password)
...     page = api.list("meters", limit=10, enterprise="1", sort="-id")
...     meter = api.get("meters", "88.1234/meter.17")
...     trades = list(api.iterate("trading/trades", sort="-price"))

Every list route answers one page ``{items, total, limit, offset, next_offset}`` and takes
``limit``, ``offset`` and ``sort`` (docs/api.md, "Lists"): :meth:`Client.list` reads one page of
any of them (``resource`` may name a sub-path such as ``trading/trades`` or ``alarms/rules``),
:meth:`Client.iterate` follows ``next_offset`` to the end.

Problem details answers (RFC 9457) become :class:`ApiError` carrying ``status`` and the
problem document; 401/403/404/409/422 map to the matching :mod:`carbonpark.errors` classes
so library code can treat a remote park like a local one.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx

from carbonpark.errors import CarbonparkError, ConflictError, NotFoundError, PermissionDenied

__all__ = ["ApiError", "Client"]


class ApiError(CarbonparkError):
    """An error answer of the API, with its HTTP ``status`` and ``problem`` document."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        super().__init__(f"HTTP {status}: {problem.get('detail') or problem.get('title') or 'error'}")


def _raise_for(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        problem = response.json()
    except ValueError:
        problem = {"title": response.reason_phrase, "detail": response.text[:200]}
    if not isinstance(problem, dict):
        problem = {"detail": str(problem)[:200]}
    status = response.status_code
    if status == 404:
        raise NotFoundError("resource", response.request.url.path)
    if status == 403:
        raise PermissionDenied(str(problem.get("detail")))
    if status == 409:
        raise ConflictError(str(problem.get("detail")))
    raise ApiError(status, problem)


class Client:
    """A session with one carbonpark server.

    Parameters
    ----------
    base_url
        Server root, e.g. ``http://127.0.0.1:8000`` (the client adds ``/api/…``).
    token
        A bearer token, if you already have one (else call :meth:`login`).
    api_key
        A device key, sent as ``X-API-Key`` (device routes such as ``POST /api/readings``).
    timeout
        Seconds per request.
    transport
        An httpx transport (tests pass ``httpx.WSGITransport``/ASGI-bridges or mocks of their own).
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        api_key: str | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Accept": "application/json"}
        if api_key:
            headers["X-API-Key"] = api_key
        self._http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout, transport=transport)
        if token:
            self.token = token

    @property
    def token(self) -> str | None:
        """The bearer token in use."""
        value = self._http.headers.get("Authorization", "")
        return value.removeprefix("Bearer ") or None

    @token.setter
    def token(self, value: str) -> None:
        self._http.headers["Authorization"] = f"Bearer {value}"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Any API call; returns the decoded JSON body, raises on an error answer."""
        response = self._http.request(method, path, **kwargs)
        _raise_for(response)
        return response.json() if response.content else None

    def login(self, name: str, password: str) -> dict[str, Any]:
        """Log in with the OAuth2 password flow; the token is used for later calls."""
        doc: dict[str, Any] = self.request("POST", "/api/auth/token", data={"username": name, "password": password})
        self.token = doc["access_token"]
        return doc

    def logout(self) -> bool:
        """Revoke the current token."""
        token = self.token
        if token is None:
            return False
        doc = self.request("POST", "/api/auth/revoke", data={"token": token})
        self._http.headers.pop("Authorization", None)
        return bool(doc["revoked"])

    def me(self) -> dict[str, Any]:
        """Who the server thinks we are."""
        doc: dict[str, Any] = self.request("GET", "/api/auth/me")
        return doc

    def list(self, resource: str, **params: Any) -> dict[str, Any]:
        """One page of ``/api/<resource>`` (``limit``, ``offset``, ``sort`` and filters as keywords).

        ``resource`` is the path after ``/api/``, e.g. ``meters``, ``trading/trades`` or ``alarms/rules``;
        ``None`` values are left out. Answers ``{items, total, limit, offset, next_offset}``.
        """
        clean = {k: v for k, v in params.items() if v is not None}
        doc: dict[str, Any] = self.request("GET", f"/api/{quote(resource)}", params=clean)
        return doc

    def iterate(self, resource: str, page_size: int = 500, **params: Any) -> Iterator[dict[str, Any]]:
        """Every row of ``/api/<resource>``, page after page (following ``next_offset``)."""
        offset: int | None = 0
        while offset is not None:
            page = self.list(resource, limit=page_size, offset=offset, **params)
            yield from page["items"]
            offset = page["next_offset"]

    def get(self, resource: str, ref: str | int) -> dict[str, Any]:
        """One row by numeric id or Handle identifier (the handle's slash stays a slash)."""
        doc: dict[str, Any] = self.request("GET", f"/api/{quote(resource)}/{quote(str(ref), safe='/')}")
        return doc

    def readings(
        self, meter: str | int, start: str | None = None, end: str | None = None, **params: Any
    ) -> Iterator[dict[str, Any]]:
        """Every reading of ``meter`` in ``[start, end)``, page after page (``sort="-ts"``: newest first)."""
        return self.iterate("readings", meter=str(meter), start=start, end=end, **params)

    def audit(self, **params: Any) -> dict[str, Any]:
        """One page of the audit log (park administrators)."""
        return self.list("audit", **params)

    def users(self, **params: Any) -> dict[str, Any]:
        """One page of users (park administrators; ``sort`` by id, name or role)."""
        return self.list("users", **params)

    def keys(self, **params: Any) -> dict[str, Any]:
        """One page of device API keys, never the keys themselves (park administrators)."""
        return self.list("keys", **params)

    def alarms(self, **params: Any) -> dict[str, Any]:
        """One page of the alarms you may see (``state``; ``sort`` by id or raised)."""
        return self.list("alarms", **params)

    def trades(self, **params: Any) -> dict[str, Any]:
        """One page of the park market's trades you are a party to (``asset``, ``market``; ``sort``)."""
        return self.list("trading/trades", **params)

    def orders(self, **params: Any) -> dict[str, Any]:
        """One page of the park market's orders you may see (``market``, ``status``; ``sort``)."""
        return self.list("trading/orders", **params)

    def movements(self, **params: Any) -> dict[str, Any]:
        """One page of the trading registry's movements you take part in (``enterprise``; ``sort``)."""
        return self.list("trading/movements", **params)
