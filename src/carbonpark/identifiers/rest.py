"""Resolution answers in the Handle System REST shape, with value-level access control.

``GET /api/handles/{prefix}/{suffix}`` answers with an HTTP status *and* a Handle
``responseCode`` in the body; Handle clients check both:

==========================================  ======  ============
case                                        HTTP    responseCode
==========================================  ======  ============
values found                                200     1
handle unknown                              404     100
handle malformed                            400     102
``?type=`` / ``?index=`` match nothing       200     200
restricted value asked for without login    401     402
restricted value, logged in, no permission  403     401
foreign prefix, no upstream resolver        404     301
upstream resolver unreachable               502     2
==========================================  ======  ============

``?type=`` and ``?index=`` may repeat; a value is returned when it matches any of them (the
Handle proxy's rule). Without filters, values the reader may not see are left out; if that
leaves nothing of a record that has values, the answer is 401/402 (or 403/401 when logged in).

References
----------
Handle.Net Technical Manual v9, chapter on the JSON REST API (response shape, response codes
1, 2, 100, 102, 200, 301, 401, 402) and §14.2.3 (HS_ADMIN); SPEC.md C2; issue 7 item 2.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum
from functools import lru_cache
from typing import Any

from carbonpark.errors import ValidationError
from carbonpark.identifiers.values import admin_permits, decode_data

__all__ = [
    "Answer",
    "Reader",
    "Record",
    "ResponseCode",
    "StoredValue",
    "admins_of",
    "answer",
    "can_read",
    "can_write",
    "is_local_prefix",
    "iso_utc",
    "malformed",
    "not_found",
    "split_handle",
    "value_json",
]

_PREFIX = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._\-]{0,127}$")
_SUFFIX = re.compile(r"^[^\s\x00-\x1f\x7f]{1,255}$")


class ResponseCode(IntEnum):
    """Handle protocol response codes used by the resolver."""

    SUCCESS = 1
    ERROR = 2
    HANDLE_NOT_FOUND = 100
    HANDLE_ALREADY_EXISTS = 101
    INVALID_HANDLE = 102
    VALUES_NOT_FOUND = 200
    VALUE_ALREADY_EXISTS = 201
    INVALID_VALUE = 202
    SERVER_NOT_RESPONSIBLE = 301
    INSUFFICIENT_PERMISSIONS = 401
    AUTHENTICATION_NEEDED = 402


@dataclass(frozen=True)
class Reader:
    """Who asks: ``name`` None is an anonymous client.

    Attributes
    ----------
    name
        User name (None without login).
    role
        ``park_admin``, ``enterprise``, ``verifier``, ``regulator``, ``device`` (issue 3's roles).
    enterprise
        Handle of the user's enterprise (for the ``enterprise`` role).
    """

    name: str | None = None
    role: str | None = None
    enterprise: str | None = None

    @property
    def anonymous(self) -> bool:
        """True for a client that did not log in."""
        return self.name is None


@dataclass(frozen=True)
class StoredValue:
    """One value as stored: ``data`` is text (JSON text for structured and admin values)."""

    index: int
    type: str
    data_format: str
    data: str
    ttl: int
    timestamp_ms: int
    public: bool


@dataclass(frozen=True)
class Record:
    """An identifier and its values (in index order)."""

    handle: str
    values: tuple[StoredValue, ...]
    owner: str | None = None


@dataclass(frozen=True)
class Answer:
    """An HTTP status and the JSON body."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def response_code(self) -> int:
        """The Handle ``responseCode`` of the body."""
        return int(self.body["responseCode"])


def split_handle(text: str) -> tuple[str, str]:
    """``prefix/suffix`` of any Handle (this park's or foreign); :class:`ValidationError` otherwise."""
    prefix, sep, suffix = text.strip().partition("/")
    if not sep or not _PREFIX.match(prefix) or not _SUFFIX.match(suffix):
        raise ValidationError("handle", "a Handle identifier <prefix>/<suffix> like 88.1234/meter.17", text)
    return prefix, suffix


def is_local_prefix(prefix: str, park_prefix: str, node_prefixes: Iterable[str] = ()) -> bool:
    """Whether this resolver answers for ``prefix``: the park's ``88.<park_prefix>`` or a node run here."""
    return prefix == f"88.{park_prefix}" or prefix in set(node_prefixes)


@lru_cache(maxsize=8192)
def iso_utc(ms: int) -> str:
    """ISO 8601 UTC time of epoch milliseconds, ``2024-01-02T03:04:05Z`` (the Handle REST form)."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def value_json(value: StoredValue) -> dict[str, Any]:
    """One value in the REST form ``{index, type, data: {format, value}, ttl, timestamp}``."""
    return {
        "index": value.index,
        "type": value.type,
        "data": {"format": value.data_format, "value": decode_data(value.data_format, value.data)},
        "ttl": value.ttl,
        "timestamp": iso_utc(value.timestamp_ms),
    }


def admins_of(record: Record) -> list[dict[str, Any]]:
    """The record's HS_ADMIN values as ``{handle, index, permissions}``."""
    return [json.loads(v.data) for v in record.values if v.type == "HS_ADMIN"]


def _is_admin(reader: Reader, record: Record, right: str) -> bool:
    if reader.anonymous:
        return False
    for admin in admins_of(record):
        who = admin["handle"]
        me = who == f"user:{reader.name}" or (reader.role == "enterprise" and who == reader.enterprise)
        if me and admin_permits(admin["permissions"], right):
            return True
    return False


def can_read(reader: Reader, record: Record, value: StoredValue) -> bool:
    """Public values for anyone; restricted ones for the park administrator and the record's admins."""
    return value.public or reader.role == "park_admin" or _is_admin(reader, record, "read_value")


def can_write(reader: Reader, record: Record | None, right: str) -> bool:
    """Whether ``reader`` holds ``right`` (an HS_ADMIN bit name) on ``record`` (None: a new record)."""
    if reader.role == "park_admin":
        return True
    return record is not None and _is_admin(reader, record, right)


def not_found(handle: str) -> Answer:
    """404 / responseCode 100."""
    return Answer(404, {"responseCode": int(ResponseCode.HANDLE_NOT_FOUND), "handle": handle})


def malformed(handle: str, message: str) -> Answer:
    """400 / responseCode 102."""
    return Answer(400, {"responseCode": int(ResponseCode.INVALID_HANDLE), "handle": handle, "message": message})


def _denied(handle: str, reader: Reader) -> Answer:
    if reader.anonymous:
        return Answer(
            401,
            {
                "responseCode": int(ResponseCode.AUTHENTICATION_NEEDED),
                "handle": handle,
                "message": "restricted values: log in as an administrator of this identifier",
            },
        )
    return Answer(
        403,
        {
            "responseCode": int(ResponseCode.INSUFFICIENT_PERMISSIONS),
            "handle": handle,
            "message": f"user {reader.name!r} may not read these restricted values",
        },
    )


def answer(
    record: Record | None,
    handle: str,
    reader: Reader,
    types: Sequence[str] = (),
    indices: Sequence[int] = (),
) -> Answer:
    """The resolver's answer for ``record`` (None: unknown) as ``reader`` sees it.

    Parameters
    ----------
    record
        The stored identifier, or None when it does not exist.
    handle
        The handle as asked (echoed in the body).
    reader
        Who asks (:class:`Reader`; anonymous without login).
    types, indices
        ``?type=`` and ``?index=`` filters; a value matching any of them is selected.

    Returns
    -------
    Answer
        HTTP status and body (see the module's table).
    """
    if record is None:
        return not_found(handle)
    wanted_types = {t.upper() for t in types}
    wanted_indices = set(indices)
    filtered = bool(wanted_types or wanted_indices)
    matched = [v for v in record.values if not filtered or v.type.upper() in wanted_types or v.index in wanted_indices]
    readable = [v for v in matched if can_read(reader, record, v)]
    if not readable and len(matched) > 0:
        return _denied(handle, reader)
    if not readable:
        return Answer(200, {"responseCode": int(ResponseCode.VALUES_NOT_FOUND), "handle": handle, "values": []})
    return Answer(
        200,
        {"responseCode": int(ResponseCode.SUCCESS), "handle": handle, "values": [value_json(v) for v in readable]},
    )
