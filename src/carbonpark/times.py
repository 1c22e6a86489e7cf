"""Time conventions of carbonpark (DESIGN.md "Time").

Naive timestamps are park-local, epoch milliseconds are UTC, storage is UTC epoch
milliseconds (``ts_ms``), periods (day, month, year) are local calendar periods, and
every output carries its UTC offset (``2025-01-01T08:00:00+08:00``).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from carbonpark.errors import ValidationError

__all__ = [
    "from_ms",
    "local_iso",
    "parse_timestamp",
    "period_bounds_ms",
    "to_ms",
    "zone",
]

_EPOCH_MS = re.compile(r"^\d{12,14}$")
_PERIOD = re.compile(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?$")


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; a clear error if it does not exist."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError("timezone", "an IANA time zone such as 'Asia/Shanghai'", name) from exc


def to_ms(moment: datetime, tz: str = "Asia/Shanghai") -> int:
    """UTC epoch milliseconds of ``moment``; a naive ``moment`` is read in the park zone ``tz``."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone(tz))
    return int(moment.timestamp() * 1000)


def from_ms(ts_ms: int, tz: str = "Asia/Shanghai") -> datetime:
    """The aware local datetime of UTC epoch milliseconds ``ts_ms``."""
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).astimezone(zone(tz))


def local_iso(ts_ms: int, tz: str = "Asia/Shanghai") -> str:
    """ISO 8601 text with the offset, e.g. ``2025-01-01T08:00:00+08:00``."""
    return from_ms(ts_ms, tz).isoformat()


def parse_timestamp(text: str | int | float, tz: str = "Asia/Shanghai", field: str = "ts") -> int:
    """Parse a timestamp into UTC epoch milliseconds.

    Parameters
    ----------
    text
        ISO 8601 text (naive means park-local; ``Z`` or an offset is honoured) or an
        integer of epoch milliseconds (UTC).
    tz
        Park time zone for naive text.
    field
        Name used in the error message.
    """
    if isinstance(text, int | float) and not isinstance(text, bool):
        return int(text)
    raw = str(text).strip()
    if _EPOCH_MS.match(raw):
        return int(raw)
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValidationError(
            field, "an ISO 8601 timestamp (2025-01-31T08:00:00, optionally with +08:00) or epoch ms", text
        ) from exc
    return to_ms(moment, tz)


def period_bounds_ms(period: str, tz: str = "Asia/Shanghai") -> tuple[int, int]:
    """Start (inclusive) and end (exclusive) in UTC epoch ms of a local calendar period.

    ``period`` is ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``.
    """
    m = _PERIOD.match(period.strip())
    if not m:
        raise ValidationError("period", "YYYY, YYYY-MM or YYYY-MM-DD", period)
    year, month, day = int(m[1]), m[2], m[3]
    try:
        if day is not None:
            start = date(year, int(month or 1), int(day))
            end = date.fromordinal(start.toordinal() + 1)
        elif month is not None:
            start = date(year, int(month), 1)
            end = date(year + (start.month == 12), start.month % 12 + 1, 1)
        else:
            start, end = date(year, 1, 1), date(year + 1, 1, 1)
    except ValueError as exc:
        raise ValidationError("period", "a real calendar date", period) from exc
    z = zone(tz)
    as_ms = [to_ms(datetime(d.year, d.month, d.day, tzinfo=z), tz) for d in (start, end)]
    return as_ms[0], as_ms[1]
