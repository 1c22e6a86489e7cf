"""Readings from CSV and Excel files, in the long or the wide layout.

Long layout: a header ``meter,ts,value[,unit][,correction]`` and one reading per row.
Wide layout: a header ``ts,<meter>,<meter>,…`` (meter id, handle or code per column) and
one timestamp per row; every non-empty cell is a reading of that column's meter in the
meter's registered unit (an empty cell is no reading). Header names are matched without
regard to case or surrounding spaces. CSV files are read as UTF-8 (a BOM is allowed);
Excel files (``.xlsx``) from their first worksheet.

Rows become :class:`~carbonpark.ingest.model.RawReading` objects with the line number in
their raw payload, for the one ingest pipeline.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from carbonpark.errors import ValidationError
from carbonpark.ingest.model import RawReading, failed

__all__ = ["ReadingsFile", "open_readings", "table_rows"]

_LONG_REQUIRED = ("meter", "ts", "value")
_TRUE = {"1", "true", "yes", "y", "是"}


def table_rows(path: Path) -> Iterator[tuple[int, list[Any]]]:
    """``(line number, cells)`` of a CSV or XLSX file, the header included (line 1)."""
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        with path.open(encoding="utf-8-sig", newline="") as fh:
            for number, cells in enumerate(csv.reader(fh), start=1):
                yield number, cells
    elif suffix in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        book = load_workbook(path, read_only=True, data_only=True)
        try:
            sheet = book.worksheets[0]
            for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
                yield number, list(cells)
        finally:
            book.close()
    else:
        raise ValidationError("FILE", "a .csv or .xlsx file", path.name)


def _blank(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _text(cell: Any) -> Any:
    """A cell as the pipeline takes it: text stripped, numbers and datetimes as they are."""
    return cell.strip() if isinstance(cell, str) else cell


@dataclass
class ReadingsFile:
    """A readings file: its layout, its data rows, and its readings one by one.

    Attributes
    ----------
    layout
        ``"long"`` or ``"wide"``.
    columns
        The header, as written.
    data_rows
        Number of rows after the header (for a progress bar).
    """

    path: Path
    layout: str
    columns: list[str]
    data_rows: int

    def readings(self) -> Iterator[tuple[int, RawReading]]:
        """``(line number, reading)`` for every reading of the file (a bad row is one ``malformed`` reading)."""
        rows = table_rows(self.path)
        next(rows)  # header
        keys = [c.strip().lower() for c in self.columns]
        if self.layout == "long":
            at = {k: keys.index(k) for k in (*_LONG_REQUIRED, "unit", "correction") if k in keys}
            for number, cells in rows:
                if all(_blank(c) for c in cells):
                    continue
                raw = {"line": number, **{k: _raw(cells[i]) for k, i in at.items() if i < len(cells)}}
                if any(at[k] >= len(cells) for k in _LONG_REQUIRED):
                    yield number, failed("malformed", _line(number, cells), f"expected {len(keys)} cells")
                    continue
                unit = cells[at["unit"]] if "unit" in at and at["unit"] < len(cells) else None
                corr = cells[at["correction"]] if "correction" in at and at["correction"] < len(cells) else None
                yield (
                    number,
                    RawReading(
                        meter=None if _blank(cells[at["meter"]]) else _text(cells[at["meter"]]),
                        ts=None if _blank(cells[at["ts"]]) else _text(cells[at["ts"]]),
                        value=None if _blank(cells[at["value"]]) else _text(cells[at["value"]]),
                        unit=None if _blank(unit) else str(_text(unit)),
                        correction=str(corr).strip().lower() in _TRUE if not _blank(corr) else False,
                        raw=raw,
                    ),
                )
        else:
            meters = [c.strip() for c in self.columns[1:]]
            for number, cells in rows:
                if all(_blank(c) for c in cells):
                    continue
                ts = cells[0] if cells else None
                for col, meter in enumerate(meters, start=1):
                    cell = cells[col] if col < len(cells) else None
                    if _blank(cell):
                        continue
                    raw = {"line": number, "column": meter, "ts": _raw(ts), "value": _raw(cell)}
                    yield (
                        number,
                        RawReading(meter=meter, ts=None if _blank(ts) else _text(ts), value=_text(cell), raw=raw),
                    )


def _raw(cell: Any) -> Any:
    return cell.isoformat() if isinstance(cell, datetime) else cell


def _line(number: int, cells: list[Any]) -> str:
    return f"line {number}: " + ",".join("" if c is None else str(_raw(c)) for c in cells)


def open_readings(path: Path | str) -> ReadingsFile:
    """Open a readings file and recognise its layout from the header.

    Raises
    ------
    ValidationError
        If the file is not CSV/XLSX, is empty, or its header is neither
        ``meter,ts,value[,unit]`` nor ``ts,<meter>,…``.
    """
    path = Path(path)
    if not path.is_file():
        raise ValidationError("FILE", "an existing .csv or .xlsx file", str(path))
    rows = table_rows(path)
    try:
        _, header = next(rows)
    except StopIteration:
        raise ValidationError("FILE", "a header line: meter,ts,value[,unit] or ts,<meter>,…", "an empty file") from None
    columns = ["" if c is None else str(c).strip() for c in header]
    while columns and not columns[-1]:
        columns.pop()
    keys = [c.lower() for c in columns]
    data_rows = sum(1 for _ in rows)
    if all(k in keys for k in _LONG_REQUIRED):
        return ReadingsFile(path, "long", columns, data_rows)
    if keys and keys[0] == "ts" and len(keys) > 1 and all(keys[1:]):
        return ReadingsFile(path, "wide", columns, data_rows)
    raise ValidationError(
        "header", "meter,ts,value[,unit] (long layout) or ts,<meter id or handle>,… (wide layout)", ",".join(columns)
    )
