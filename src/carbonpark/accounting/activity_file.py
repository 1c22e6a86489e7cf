"""The activity file: one activity datum per line of a CSV (the ``carbonpark account FILE`` contract).

Columns (:data:`COLUMNS`): ``source,activity,amount,unit`` are required; every other field of
:class:`~carbonpark.accounting.model.ActivityRecord` may follow (``method``, ``gas``, ``scope``,
``category``, ``ncv`` …, ``year``, ``biogenic``). Header names are taken as written (stripped).

* :func:`read_activity_csv` — a whole file, strict: the first bad value stops it (the CLI's behaviour).
* :func:`check_header` and :func:`parse_row` — the same rules line by line, for callers that keep the
  good lines and set the bad ones aside (the dashboard's activity-data upload quarantines them).

Every error is a :class:`~carbonpark.errors.ValidationError` naming the line and the column, what
was expected and what came.

References
----------
The guide §4.2 (activity data of the accounting); SPEC C6.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from carbonpark.accounting.model import ActivityRecord
from carbonpark.errors import ValidationError

__all__ = ["COLUMNS", "REQUIRED", "check_header", "parse_number", "parse_row", "read_activity_csv"]

#: The columns every activity file has.
REQUIRED: tuple[str, ...] = ("source", "activity", "amount", "unit")
_FLOATS = (
    "ncv",
    "carbon_content",
    "oxidation_rate",
    "emission_factor",
    "density",
    "carbon_fraction",
    "carbonate_fraction",
    "green_amount",
    "market_emission_factor",
    "steam_enthalpy_kj_per_kg",
)
_TEXTS = (
    "method",
    "gas",
    "scope",
    "category",
    "scope3_category",
    "ncv_unit",
    "carbon_content_unit",
    "emission_factor_unit",
    "density_unit",
    "flow",
    "grid_region",
    "sector",
    "market_emission_factor_unit",
    "enterprise",
    "site",
    "workshop",
    "device",
)
#: Every column the activity file may have (the first four are required).
COLUMNS: tuple[str, ...] = (*REQUIRED, *_TEXTS, *_FLOATS, "year", "biogenic")
_TRUE = ("1", "true", "yes", "y", "是")
_FALSE = ("", "0", "false", "no", "n", "否")


def parse_number(text: str, where: str, *, required: bool = False) -> float | None:
    """A finite number from a cell; ``None`` for an empty optional cell (``where`` names it in errors)."""
    text = text.strip()
    if not text:
        if required:
            raise ValidationError(where, "a number", text)
        return None
    try:
        value = float(text)
    except ValueError as exc:
        raise ValidationError(where, "a number", text) from exc
    if math.isnan(value) or math.isinf(value):
        raise ValidationError(where, "a finite number", text)
    return value


def _amount(text: str, where: str) -> float:
    value = parse_number(text, where, required=True) or 0.0
    if value < 0:
        raise ValidationError(where, "an amount >= 0 (exports: flow=output; removals: method=removal)", text)
    return value


def check_header(header: Sequence[str], extra: Collection[str] = ()) -> list[str]:
    """The header, stripped, after checking it names the required columns and only known ones.

    Parameters
    ----------
    header
        The first row of the file.
    extra
        Further column names the caller reads itself (e.g. the upload's ``period``); :func:`parse_row`
        ignores them.

    Raises
    ------
    ValidationError
        Listing the missing or the unknown columns.
    """
    names = [str(h).strip() for h in header]
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise ValidationError("header", f"columns {', '.join(REQUIRED)} (missing {', '.join(missing)})", names)
    unknown = [c for c in names if c not in COLUMNS and c not in extra]
    if unknown:
        raise ValidationError("header", f"known columns only: {', '.join((*COLUMNS, *extra))}", unknown)
    return names


def _is_blank(cells: Sequence[str]) -> bool:
    return not any(c.strip() for c in cells)


def parse_row(header: Sequence[str], cells: Sequence[str], line: int) -> ActivityRecord | None:
    """One line of an activity file as a record (``None`` for a blank line).

    Parameters
    ----------
    header
        The header as :func:`check_header` returned it.
    cells
        The line's fields as text.
    line
        The line number the record and its errors carry.

    Raises
    ------
    ValidationError
        Naming the line and column of the first bad value (or a field count unlike the header's).
    """
    if _is_blank(cells):
        return None
    if len(cells) != len(header):
        raise ValidationError(f"line {line}", f"{len(header)} fields as in the header", len(cells))
    row: Mapping[str, str] = dict(zip(header, cells, strict=True))
    where = f"line {line}, column"
    for column in ("source", "activity", "unit"):
        if not row[column].strip():
            raise ValidationError(f"{where} {column}", "a value", row[column])
    values: dict[str, Any] = {c: row.get(c, "").strip() for c in _TEXTS}
    values.update({c: parse_number(row.get(c, ""), f"{where} {c}") for c in _FLOATS})
    year = parse_number(row.get("year", ""), f"{where} year")
    if year is not None and year != int(year):
        raise ValidationError(f"{where} year", "a year like 2023", row["year"])
    biogenic = row.get("biogenic", "").strip().lower()
    if biogenic not in (*_TRUE, *_FALSE):
        raise ValidationError(f"{where} biogenic", "true or false", row["biogenic"])
    return ActivityRecord(
        line=line,
        source=row["source"].strip(),
        activity=row["activity"].strip(),
        amount=_amount(row["amount"], f"{where} amount"),
        unit=row["unit"].strip(),
        year=None if year is None else int(year),
        biogenic=biogenic in _TRUE,
        **values,
    )


def read_activity_csv(text: str) -> list[ActivityRecord]:
    """Parse an activity CSV into records; line numbers are 1-based data lines (header not counted).

    Raises
    ------
    ValidationError
        Naming the line and column of the first bad value, or the unknown/missing columns.
    """
    reader = csv.reader(io.StringIO(text))
    header = check_header(next(reader, []))
    records = []
    for line, cells in enumerate(reader, start=1):
        record = parse_row(header, cells, line)
        if record is not None:
            records.append(record)
    if not records:
        raise ValidationError("file", "at least one data line", "none")
    return records
