"""JSON Canonicalization Scheme (RFC 8785): one byte string per JSON value.

What is attested must hash the same on every machine and in every language, so entries
are serialised by RFC 8785:

- objects: members sorted by their names compared as arrays of UTF-16 code units, no
  whitespace anywhere, no duplicate names;
- strings: UTF-8; only ``"`` and ``\\`` and the control characters U+0000–U+001F are
  escaped, the latter as ``\\b \\t \\n \\f \\r`` or ``\\u00xx`` (lower-case hex); everything
  else, including non-ASCII, is written as itself; lone surrogates are refused;
- numbers: as ECMAScript ``JSON.stringify`` writes an IEEE-754 double (shortest digits that
  round-trip; plain notation from 1e-6 up to below 1e21, exponent notation outside);
  NaN and infinities are refused;
- ``true``, ``false``, ``null`` as such.

carbonpark adds two rules on the Python side (before the RFC sees a value): a
:class:`decimal.Decimal` becomes a *string* in plain notation without trailing zeros
(``Decimal("1.500")`` → ``"1.5"``), so money and allowance amounts never pass through a
binary float and value-equal decimals attest identically; a Python ``int`` must lie within
±(2^53 − 1), the range where JSON numbers are exact (I-JSON, RFC 7493 §2.2), larger ones
must be passed as strings.

References
----------
RFC 8785, "JSON Canonicalization Scheme (JCS)", §3.2 (generation of canonical JSON).
RFC 7493 §2.2 (I-JSON numbers). ECMA-262, Number::toString.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from decimal import Decimal
from json.encoder import encode_basestring as _encode_string
from operator import itemgetter
from typing import Any

from carbonpark.errors import ValidationError

__all__ = ["MAX_SAFE_INTEGER", "canonical_decimal", "canonical_json", "canonical_number"]

MAX_SAFE_INTEGER = 2**53 - 1
"""The largest integer a JSON number carries exactly (RFC 7493 §2.2)."""


def canonical_decimal(value: Decimal) -> str:
    """A decimal as plain-notation text without trailing zeros or exponent (``-0`` becomes ``0``)."""
    if not value.is_finite():
        raise ValidationError("decimal", "a finite decimal", value)
    if value.is_zero():
        return "0"
    text = format(value.normalize(), "f")
    return text


def canonical_number(value: float | int) -> str:
    """The ECMAScript ``JSON.stringify`` text of a number (RFC 8785 §3.2.2.3).

    Python's ``repr`` gives the shortest digit string that round-trips, which is what
    ECMAScript's Number::toString chooses; only the placement of the decimal point and the
    exponent differ, and they are re-done here by the ECMA-262 rules.
    """
    if isinstance(value, bool):
        raise ValidationError("number", "a number, not a boolean", value)
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise ValidationError("number", f"an integer within ±{MAX_SAFE_INTEGER} (or a string)", value)
        return str(value)
    if not math.isfinite(value):
        raise ValidationError("number", "a finite number (JSON has no NaN or Infinity)", value)
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    digits_tuple, exponent = Decimal(repr(abs(value))).as_tuple()[1:]
    digits = "".join(map(str, digits_tuple)).rstrip("0")
    assert isinstance(exponent, int)
    # value = 0.d1 d2 ... dk × 10^n in ECMA-262 terms.
    k = len(digits)
    trailing_zeros = len(digits_tuple) - k
    n = k + exponent + trailing_zeros
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        mantissa = digits[0] + ("." + digits[1:] if k > 1 else "")
        text = f"{mantissa}e{'+' if e > 0 else '-'}{abs(e)}"
    return sign + text


_SURROGATE = re.compile("[\ud800-\udfff]")


def _string(value: str) -> str:
    """A JSON string as RFC 8785 §3.2.2.2 writes it.

    Python's own JSON string encoder (``ensure_ascii=False``) escapes exactly what the RFC
    escapes: ``"``, ``\\``, ``\\b \\t \\n \\f \\r`` and the other controls U+0000–U+001F as
    ``\\u00xx`` in lower-case hex, and nothing else; only lone surrogates, which it lets
    through, are refused here first.
    """
    if _SURROGATE.search(value):
        raise ValidationError("string", "valid Unicode text (no lone surrogates)", value)
    return _encode_string(value)


def _utf16_key(item: tuple[str, Any]) -> bytes:
    return item[0].encode("utf-16-be", "surrogatepass")


class _Refused(Exception):
    """A value RFC 8785 cannot carry; ``parts`` is filled with its path on the way out."""

    def __init__(self, expected: str, got: object) -> None:
        super().__init__(expected)
        self.expected, self.got = expected, got
        self.parts: list[str] = []


def _members(value: Mapping[Any, Any]) -> list[tuple[str, Any]]:
    """The members sorted by their names as UTF-16 code units (RFC 8785 §3.2.3)."""
    items = list(value.items())
    for key, _ in items:
        if type(key) is not str:
            raise _Refused("object member names that are strings", key)
    if all(key.isascii() for key, _ in items):  # ASCII: code-point order is UTF-16 order
        items.sort(key=itemgetter(0))
    else:
        items.sort(key=_utf16_key)
    return items


def _serialise(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return _string(value)
    if kind is int:
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return str(value)
        raise _Refused(f"an integer within ±{MAX_SAFE_INTEGER} (or a string)", value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, Decimal):
        try:
            return _string(canonical_decimal(value))
        except ValidationError as exc:
            raise _Refused(exc.expected, value) from None
    if isinstance(value, int | float):
        try:
            return canonical_number(value)
        except ValidationError as exc:
            raise _Refused(exc.expected, value) from None
    if isinstance(value, Mapping):
        parts = []
        for key, member in _members(value):
            try:
                parts.append(_string(key) + ":" + _serialise(member))
            except _Refused as exc:
                exc.parts.append(f".{key}")
                raise
        return "{" + ",".join(parts) + "}"
    if isinstance(value, list | tuple):
        parts = []
        for i, member in enumerate(value):
            try:
                parts.append(_serialise(member))
            except _Refused as exc:
                exc.parts.append(f"[{i}]")
                raise
        return "[" + ",".join(parts) + "]"
    raise _Refused("a JSON value (object, array, string, number, Decimal, bool, None)", value)


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON-like Python value.

    Parameters
    ----------
    value
        dicts with string keys, lists or tuples, str, int, float, Decimal, bool, None.

    Returns
    -------
    bytes
        The canonical form, UTF-8 encoded.

    References
    ----------
    RFC 8785 §3.2.
    """
    try:
        return _serialise(value).encode("utf-8")
    except _Refused as exc:
        raise ValidationError("$" + "".join(reversed(exc.parts)), exc.expected, exc.got) from None
