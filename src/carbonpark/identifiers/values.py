"""Typed values of an identifier (标识值), as in the Handle System's handle records.

An identifier carries an ordered set of values; each has an ``index`` (unique in the record),
a ``type``, ``data`` (``{"format", "value"}``), a ``ttl`` [s], a timestamp and, here, an
access flag: ``public`` values are readable by anyone, restricted ones only by the record's
administrators (its ``HS_ADMIN`` values) and the park administrator.

Types:

* ``URL``, ``EMAIL``, ``DESC``: text (Handle's own types);
* ``HS_ADMIN``: who administers the record and with which rights (format ``admin``):
  ``{"handle": <enterprise handle or user:<name>>, "index": <int>, "permissions": "<12 bits>"}``;
* carbon types of the park (guide §3.2.2(2)1: carbon emission data as virtual assets):
  ``CARBON_FOOTPRINT`` (a product's or batch's footprint), ``MANUFACTURER`` (the handle of the
  enterprise making it), ``BATCH`` (a production batch of a product), ``EMISSION_RECORD``
  (an accounted emission figure). Structured carbon values are kept as canonical JSON text
  (sorted keys, no spaces) in a ``string`` value, so that any Handle client can carry them;
* any other upper-case type (``^[A-Z][A-Z0-9_.]{0,31}$``) as plain text.

References
----------
Handle.Net Technical Manual v9, §14.2 (handle value types, HS_ADMIN permission bits) and the
REST API chapter (JSON form of values); guide §2.1(1), §3.2.2(2)1; SPEC.md C2.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from carbonpark.errors import ValidationError
from carbonpark.model import is_handle

__all__ = [
    "ADMIN_PERMISSIONS",
    "CARBON_TYPES",
    "DEFAULT_TTL_S",
    "VALUE_TYPES",
    "ValueType",
    "admin_permits",
    "canonical_data",
    "decode_data",
    "is_public_by_default",
    "validate_value",
]

#: Time to live of a value [s] unless given (the Handle System's default).
DEFAULT_TTL_S = 86_400

#: The 12 HS_ADMIN permission bits, in order (Handle Technical Manual §14.2.3).
ADMIN_PERMISSIONS: tuple[str, ...] = (
    "add_handle",
    "delete_handle",
    "add_derived_prefix",
    "delete_derived_prefix",
    "modify_value",
    "remove_value",
    "add_value",
    "read_value",
    "modify_admin",
    "remove_admin",
    "add_admin",
    "list_handles",
)

_TYPE_NAME = re.compile(r"^[A-Z][A-Z0-9_.]{0,31}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URL = re.compile(r"^(https?://[^\s]+|/[^\s]*)$")
_BITS = re.compile(r"^[01]{12}$")


def _text(type_name: str, value: Any, *, limit: int = 2000) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{type_name}.value", "a non-empty text", value)
    if len(value) > limit:
        raise ValidationError(f"{type_name}.value", f"a text of at most {limit} characters", f"{len(value)} characters")
    return value.strip()


def _url(value: Any) -> str:
    text = _text("URL", value)
    if not _URL.match(text):
        raise ValidationError("URL.value", "an http(s) URL or a path starting with /", value)
    return text


def _email(value: Any) -> str:
    text = _text("EMAIL", value, limit=254)
    if not _EMAIL.match(text):
        raise ValidationError("EMAIL.value", "an e-mail address like name@example.cn", value)
    return text


def _handle_ref(type_name: str, value: Any) -> str:
    text = _text(type_name, value, limit=255)
    if not is_handle(text):
        raise ValidationError(f"{type_name}.value", "a Handle identifier like 88.1234/ent.3", value)
    return text


def _mapping(type_name: str, value: Any) -> Mapping[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"{type_name}.value", "a JSON object", value) from exc
    if not isinstance(value, Mapping):
        raise ValidationError(f"{type_name}.value", "a JSON object", value)
    return value


def _number(type_name: str, row: Mapping[str, Any], key: str, *, minimum: float | None = 0.0) -> float:
    value = row.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationError(f"{type_name}.{key}", "a finite number", value)
    if minimum is not None and value < minimum:
        raise ValidationError(f"{type_name}.{key}", f"a number ≥ {minimum:g}", value)
    return float(value)


def _required_text(type_name: str, row: Mapping[str, Any], key: str) -> str:
    value = row.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{type_name}.{key}", "a non-empty text", value)
    return value


def _admin(value: Any) -> dict[str, Any]:
    row = _mapping("HS_ADMIN", value)
    who = row.get("handle")
    if not isinstance(who, str) or not (is_handle(who) or (who.startswith("user:") and len(who) > 5)):
        raise ValidationError("HS_ADMIN.handle", "an enterprise handle (88.1234/ent.3) or user:<name>", who)
    index = row.get("index", 200)
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise ValidationError("HS_ADMIN.index", "a non-negative integer", index)
    bits = row.get("permissions", "011111110011")
    if not isinstance(bits, str) or not _BITS.match(bits):
        raise ValidationError("HS_ADMIN.permissions", "12 characters of 0/1 (Handle HS_ADMIN bits)", bits)
    return {"handle": who, "index": index, "permissions": bits}


def _footprint(value: Any) -> dict[str, Any]:
    row = dict(_mapping("CARBON_FOOTPRINT", value))
    row["tco2e_per_unit"] = _number("CARBON_FOOTPRINT", row, "tco2e_per_unit", minimum=None)
    _required_text("CARBON_FOOTPRINT", row, "unit")
    _required_text("CARBON_FOOTPRINT", row, "boundary")
    return row


def _batch(value: Any) -> dict[str, Any]:
    row = dict(_mapping("BATCH", value))
    if not is_handle(str(row.get("product", ""))):
        raise ValidationError("BATCH.product", "the product's Handle identifier", row.get("product"))
    _required_text("BATCH", row, "batch")
    row["quantity"] = _number("BATCH", row, "quantity")
    _required_text("BATCH", row, "unit")
    return row


def _emission_record(value: Any) -> dict[str, Any]:
    row = dict(_mapping("EMISSION_RECORD", value))
    row["tco2e"] = _number("EMISSION_RECORD", row, "tco2e", minimum=None)
    _required_text("EMISSION_RECORD", row, "period")
    return row


@dataclass(frozen=True)
class ValueType:
    """A value type: its data format, whether it is public by default, and its check."""

    name: str
    data_format: str
    public: bool
    name_zh: str
    check: Callable[[Any], Any]


VALUE_TYPES: dict[str, ValueType] = {
    "URL": ValueType("URL", "string", True, "地址", _url),
    "EMAIL": ValueType("EMAIL", "string", False, "联系邮箱", _email),
    "DESC": ValueType("DESC", "string", True, "描述", lambda v: _text("DESC", v)),
    "HS_ADMIN": ValueType("HS_ADMIN", "admin", True, "管理员", _admin),
    "MANUFACTURER": ValueType("MANUFACTURER", "string", True, "生产企业", lambda v: _handle_ref("MANUFACTURER", v)),
    "CARBON_FOOTPRINT": ValueType("CARBON_FOOTPRINT", "string", True, "碳足迹", _footprint),
    "BATCH": ValueType("BATCH", "string", True, "批次", _batch),
    "EMISSION_RECORD": ValueType("EMISSION_RECORD", "string", False, "排放记录", _emission_record),
}
#: The park's carbon value types (structured, JSON text in a string value).
CARBON_TYPES: frozenset[str] = frozenset({"CARBON_FOOTPRINT", "BATCH", "EMISSION_RECORD"})


def is_public_by_default(type_name: str) -> bool:
    """Whether a value of ``type_name`` is public unless said otherwise (contacts and emission records are not)."""
    known = VALUE_TYPES.get(type_name)
    return True if known is None else known.public


def canonical_data(type_name: str, value: Any) -> Any:
    """The stored form of a checked value: text, or for structured types canonical JSON text."""
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return value


def validate_value(type_name: str, value: Any) -> tuple[str, str]:
    """Check a value of ``type_name``; return ``(data format, stored data)``.

    Parameters
    ----------
    type_name
        ``URL``, ``EMAIL``, ``DESC``, ``HS_ADMIN``, ``MANUFACTURER``, ``CARBON_FOOTPRINT``, ``BATCH``,
        ``EMISSION_RECORD`` or another upper-case type (plain text).
    value
        Text, or a mapping (or JSON text of one) for structured types.

    Raises
    ------
    ValidationError
        Naming the type and field, what was expected and what came.
    """
    if not isinstance(type_name, str) or not _TYPE_NAME.match(type_name):
        raise ValidationError("type", "an upper-case value type like URL or CARBON_FOOTPRINT", type_name)
    known = VALUE_TYPES.get(type_name)
    if known is None:
        return "string", _text(type_name, value)
    checked = known.check(value)
    stored = canonical_data(type_name, checked)
    return known.data_format, stored if isinstance(stored, str) else str(stored)


def decode_data(data_format: str, stored: str) -> Any:
    """The ``data.value`` of the REST form: text, or for ``admin`` the object."""
    if data_format == "admin":
        return json.loads(stored)
    return stored


def admin_permits(permissions: str, right: str) -> bool:
    """Whether an HS_ADMIN permission string grants ``right`` (one of :data:`ADMIN_PERMISSIONS`)."""
    if right not in ADMIN_PERMISSIONS:
        raise ValidationError("right", f"one of {', '.join(ADMIN_PERMISSIONS)}", right)
    return len(permissions) == 12 and permissions[ADMIN_PERMISSIONS.index(right)] == "1"
