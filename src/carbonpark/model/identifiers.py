"""Identifier syntax of the industrial-internet Handle system (标识解析), guide §3.2.2(2)1.

Every entity gets one identifier at creation, ``88.<park prefix>/<type>.<local id>``,
for example ``88.1234/meter.17``. It never changes. The resolver service is built on
this syntax in :mod:`carbonpark.identifiers`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from carbonpark.errors import ValidationError

__all__ = ["TYPE_TOKENS", "Handle", "format_handle", "is_handle", "parse_handle"]

#: Type token of each entity kind (listed in the README).
TYPE_TOKENS: dict[str, str] = {
    "park": "park",
    "enterprise": "ent",
    "site": "site",
    "device": "dev",
    "meter": "meter",
    "source": "src",
    "product": "prod",
    "material": "mat",
    "carrier": "carrier",
    "calibration": "cal",
    "statistic": "stat",
}

_HANDLE = re.compile(r"^88\.(?P<prefix>[0-9A-Za-z.]+)/(?P<type>[a-z]+)\.(?P<local>[0-9A-Za-z_\-.]+)$")


@dataclass(frozen=True)
class Handle:
    """A parsed Handle identifier ``88.<prefix>/<type>.<local>``."""

    prefix: str
    type_token: str
    local_id: str

    def __str__(self) -> str:
        return f"88.{self.prefix}/{self.type_token}.{self.local_id}"


def format_handle(prefix: str, kind: str, local_id: int | str) -> str:
    """The identifier of entity ``kind`` number ``local_id`` under park prefix ``prefix``.

    >>> format_handle("1234", "meter", 17)
    '88.1234/meter.17'
    """
    if kind not in TYPE_TOKENS:
        raise ValidationError("kind", f"one of {', '.join(TYPE_TOKENS)}", kind)
    return str(Handle(prefix, TYPE_TOKENS[kind], str(local_id)))


def is_handle(text: str) -> bool:
    """Whether ``text`` has the Handle syntax."""
    return bool(_HANDLE.match(text.strip()))


def parse_handle(text: str) -> Handle:
    """Parse ``88.<prefix>/<type>.<local id>``; a clear error otherwise."""
    m = _HANDLE.match(text.strip())
    if not m:
        raise ValidationError("identifier", "a Handle like 88.1234/meter.17", text)
    return Handle(m["prefix"], m["type"], m["local"])
