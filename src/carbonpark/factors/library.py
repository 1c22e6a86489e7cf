"""The factor library: packaged, dated, cited factor rows chosen by set name.

Every row of every data file under ``factors/data/`` carries its value, unit, source
document, table or clause, validity period and grade (A: quoted from an official text,
B: several independent sources agree, C: one source or unconfirmed). A *fuel factor set*
(``cn-ndrc-2015``, ``cn-mee-2022``) chooses the default fuel-parameter table; the grid,
heat, standard-coal and IPCC tables are shared by all sets; a *GWP set* (SAR, AR4, AR5,
AR6) is chosen separately. User factor sets are layered on top and win over the library.

References
----------
GB/T 32150-2015 and GB/T 32151 (fuel parameters: NCV, carbon content per unit heat,
oxidation rate); MEE 2022 power-sector guideline Table A.1; GB/T 2589-2020 Appendix A;
MEE/NBS electricity CO2 factor announcements; 2006 IPCC Guidelines Vol. 2; IPCC SAR, AR4,
AR5, AR6 WG1 GWP-100 tables. The guide §4.2 names GB/T 32151 and GB/T 2589 as the basis.
"""

from __future__ import annotations

import csv
import difflib
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cache, lru_cache
from importlib.resources import files
from pathlib import Path

from carbonpark.errors import UnknownFactorError, ValidationError

__all__ = [
    "DEFAULT_FACTOR_SET",
    "DEFAULT_GWP_SET",
    "FACTOR_COLUMNS",
    "Activity",
    "FactorLibrary",
    "FactorRow",
    "FactorSetInfo",
    "default_library",
    "load_user_set",
    "read_factor_csv",
]

#: Columns of every factor data file (and of a user factor-set CSV).
FACTOR_COLUMNS: tuple[str, ...] = (
    "id",
    "parameter",
    "subject",
    "gas",
    "region",
    "purpose",
    "data_year",
    "value",
    "unit",
    "source_document",
    "table_clause",
    "valid_from",
    "valid_to",
    "grade",
    "notes",
)
_REQUIRED = ("id", "parameter", "subject", "value", "unit", "source_document")
_PARAMETERS = (
    "ncv",
    "carbon_content",
    "oxidation_rate",
    "emission_factor",
    "standard_coal_coefficient",
    "gwp",
)

DEFAULT_FACTOR_SET = "cn-ndrc-2015"
DEFAULT_GWP_SET = "AR5"


@dataclass(frozen=True, slots=True)
class FactorRow:
    """One cited factor value.

    Attributes
    ----------
    id
        Unique id of the row (``ndrc2015:diesel:ncv``); result rows cite it.
    parameter
        ``ncv`` [GJ per unit], ``carbon_content`` [tC/TJ], ``oxidation_rate`` [fraction],
        ``emission_factor`` [mass of gas per unit], ``standard_coal_coefficient`` [kgce per
        unit] or ``gwp`` [tCO2e/t].
    subject
        The activity id (``diesel``, ``grid_electricity``) or, for GWP rows, the gas.
    value, unit
        The number and the unit it is in (``GJ/t``, ``tC/TJ``, ``kgCO2/kWh`` …).
    set_name
        The factor set the row belongs to; ``origin`` says ``library``, ``user`` or ``measured``.
    """

    id: str
    parameter: str
    subject: str
    value: float
    unit: str
    source_document: str
    table_clause: str = ""
    gas: str = ""
    region: str = ""
    purpose: str = ""
    data_year: int | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    grade: str = "C"
    notes: str = ""
    set_name: str = ""
    origin: str = "library"

    def cite(self) -> dict[str, object]:
        """The row as a plain dict for lineage output."""
        return {
            "id": self.id,
            "parameter": self.parameter,
            "value": self.value,
            "unit": self.unit,
            "source": self.source_document,
            "table": self.table_clause,
            "grade": self.grade,
            "set": self.set_name,
            "origin": self.origin,
        }


@dataclass(frozen=True, slots=True)
class Activity:
    """A known activity (fuel, energy carrier, material or gas) of the catalogue."""

    id: str
    kind: str  # fuel | electricity | heat | carbonate | gas | user
    name_zh: str = ""
    name_en: str = ""
    gas: str = ""
    ipcc_fuel: str = ""
    default_scope: str = "1"
    default_category: str = "1"


@dataclass(frozen=True, slots=True)
class FactorSetInfo:
    """A named factor set: what it is and which data files it reads, in order of precedence."""

    name: str
    kind: str  # fuel | gwp | shared | user
    description: str
    files: tuple[str, ...] = ()
    is_default: bool = False


_FUEL_SETS: tuple[FactorSetInfo, ...] = (
    FactorSetInfo(
        "cn-ndrc-2015",
        "fuel",
        "NDRC 2013-2015 24-industry guideline / GB/T 32151 default fuel table (older table); raw coal from "
        "GB/T 2589 NCV with 2011 provincial-inventory CC and OF",
        ("ndrc-guidelines-2015.csv", "ndrc-provincial-inventory-2011.csv"),
        True,
    ),
    FactorSetInfo(
        "cn-mee-2022",
        "fuel",
        "MEE 2022 power-sector guideline Table A.1 default fuel table (newer table); "
        "raw coal, purchased heat and carbonates from the older tables",
        ("mee-power-guideline-2022.csv", "ndrc-provincial-inventory-2011.csv", "ndrc-guidelines-2015.csv"),
    ),
)
_SHARED_FILES: tuple[tuple[str, str], ...] = (
    ("mee-grid", "mee-grid-factors-2025.csv"),
    ("gbt2589-2020", "sac-gbt2589-2020.csv"),
    ("ipcc-2006", "ipcc-2006-guidelines-2006.csv"),
)
_GWP_SETS: tuple[FactorSetInfo, ...] = (
    FactorSetInfo(
        "SAR",
        "gwp",
        "IPCC Second Assessment Report GWP-100 (used by the NDRC 2013-2015 guidelines)",
        ("ipcc-sar-1995.csv",),
    ),
    FactorSetInfo("AR4", "gwp", "IPCC Fourth Assessment Report GWP-100", ("ipcc-ar4-2007.csv",)),
    FactorSetInfo("AR5", "gwp", "IPCC Fifth Assessment Report GWP-100", ("ipcc-ar5-2013.csv",), True),
    FactorSetInfo(
        "AR6",
        "gwp",
        "IPCC Sixth Assessment Report GWP-100 (CH4 fossil 29.8 / non-fossil 27.0)",
        ("ipcc-ar6-2021.csv",),
    ),
)


def _parse_date(text: str, where: str) -> date | None:
    if not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValidationError(where, "a date like 2023-01-01", text) from exc


def _row_from_record(record: Mapping[str, str], where: str, set_name: str, origin: str) -> FactorRow:
    for column in _REQUIRED:
        if not (record.get(column) or "").strip():
            raise ValidationError(f"{where}, column {column}", "a value", record.get(column))
    parameter = record["parameter"].strip()
    if parameter not in _PARAMETERS:
        raise ValidationError(f"{where}, column parameter", f"one of {', '.join(_PARAMETERS)}", parameter)
    try:
        value = float(record["value"])
    except ValueError as exc:
        raise ValidationError(f"{where}, column value", "a number", record["value"]) from exc
    if value != value or value < 0:
        raise ValidationError(f"{where}, column value", "a finite number >= 0", record["value"])
    year_text = (record.get("data_year") or "").strip()
    try:
        data_year = int(year_text) if year_text else None
    except ValueError as exc:
        raise ValidationError(f"{where}, column data_year", "a year like 2023", year_text) from exc
    grade = (record.get("grade") or "C").strip() or "C"
    if grade not in ("A", "B", "C"):
        raise ValidationError(f"{where}, column grade", "A, B or C", grade)
    return FactorRow(
        id=record["id"].strip(),
        parameter=parameter,
        subject=record["subject"].strip(),
        value=value,
        unit=record["unit"].strip(),
        source_document=record["source_document"].strip(),
        table_clause=(record.get("table_clause") or "").strip(),
        gas=(record.get("gas") or "").strip(),
        region=(record.get("region") or "").strip(),
        purpose=(record.get("purpose") or "").strip(),
        data_year=data_year,
        valid_from=_parse_date(record.get("valid_from") or "", f"{where}, column valid_from"),
        valid_to=_parse_date(record.get("valid_to") or "", f"{where}, column valid_to"),
        grade=grade,
        notes=(record.get("notes") or "").strip(),
        set_name=set_name,
        origin=origin,
    )


def read_factor_csv(text: str, set_name: str, *, origin: str = "user", where: str = "factors") -> list[FactorRow]:
    """Parse a factor CSV (columns :data:`FACTOR_COLUMNS`) into rows of set ``set_name``.

    Raises
    ------
    ValidationError
        Naming the line and column of the first bad value.
    """
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in _REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise ValidationError(f"{where}, header", f"columns {', '.join(FACTOR_COLUMNS)}", reader.fieldnames)
    rows = [
        _row_from_record(record, f"{where} line {index}", set_name, origin)
        for index, record in enumerate(reader, start=2)
    ]
    seen: set[str] = set()
    for row in rows:
        if row.id in seen:
            raise ValidationError(f"{where}, id", "unique row ids", row.id)
        seen.add(row.id)
    return rows


def _data_text(name: str) -> str:
    return files("carbonpark.factors").joinpath("data", name).read_text(encoding="utf-8")


@cache
def _packaged_rows(name: str, set_name: str) -> tuple[FactorRow, ...]:
    return tuple(read_factor_csv(_data_text(name), set_name, origin="library", where=name))


@lru_cache(maxsize=1)
def _packaged_activities() -> tuple[tuple[Activity, tuple[str, ...]], ...]:
    out = []
    for record in csv.DictReader(io.StringIO(_data_text("activities.csv"))):
        activity = Activity(
            id=record["activity"],
            kind=record["kind"],
            name_zh=record["name_zh"],
            name_en=record["name_en"],
            gas=record["gas"],
            ipcc_fuel=record["ipcc_fuel"],
            default_scope=record["default_scope"],
            default_category=record["default_category"],
        )
        aliases = tuple(a for a in record["aliases"].split(";") if a)
        out.append((activity, aliases))
    return tuple(out)


def _norm(name: str) -> str:
    return name.strip().lower().replace("-", "_").replace(" ", "_")


@dataclass(frozen=True)
class FactorLibrary:
    """All factor rows, organised in layers; immutable (``with_user_set`` returns a new one).

    Use :func:`default_library` for the packaged library.
    """

    fuel_sets: Mapping[str, tuple[FactorRow, ...]]
    shared: tuple[FactorRow, ...]
    gwp_sets: Mapping[str, tuple[FactorRow, ...]]
    user_sets: tuple[tuple[str, tuple[FactorRow, ...]], ...] = ()
    activities: tuple[tuple[Activity, tuple[str, ...]], ...] = ()
    infos: tuple[FactorSetInfo, ...] = field(default=())

    # ----- sets -----------------------------------------------------------------
    def factor_sets(self) -> list[FactorSetInfo]:
        """Every named set: fuel sets, GWP sets, the shared tables and user sets."""
        return list(self.infos)

    def check_fuel_set(self, name: str) -> str:
        """Return ``name`` if it is a fuel factor set, else raise :class:`UnknownFactorError`."""
        if name not in self.fuel_sets:
            raise UnknownFactorError(f"unknown factor set {name!r}; known factor sets: {sorted(self.fuel_sets)}")
        return name

    def check_gwp_set(self, name: str) -> str:
        """Return the canonical spelling of GWP set ``name`` (case-insensitive, AR2 = SAR)."""
        wanted = "SAR" if name.strip().upper() == "AR2" else name.strip()
        for known in self.gwp_sets:
            if known.upper() == wanted.upper():
                return known
        raise UnknownFactorError(f"unknown GWP set {name!r}; known GWP sets: {list(self.gwp_sets)}")

    def with_user_set(self, name: str, rows: Iterable[FactorRow], description: str = "") -> FactorLibrary:
        """A library where the rows of user set ``name`` take precedence over every packaged row.

        Rows whose parameter is ``gwp`` form a GWP set of the same name, selectable like AR5.
        """
        tagged = tuple(replace(r, set_name=name, origin="user") for r in rows)
        gwp_rows = tuple(r for r in tagged if r.parameter == "gwp")
        other = tuple(r for r in tagged if r.parameter != "gwp")
        gwp_sets = dict(self.gwp_sets)
        if gwp_rows:
            gwp_sets[name] = gwp_rows
        info = FactorSetInfo(name, "user", description or "user factor set", ())
        return replace(
            self,
            user_sets=((name, other), *self.user_sets),
            gwp_sets=gwp_sets,
            infos=(*self.infos, info),
        )

    # ----- activities -------------------------------------------------------------
    def activity(self, name: str) -> Activity | None:
        """The catalogue activity called ``name`` (id, Chinese name or alias), a user-set subject, or None."""
        key = _norm(name)
        for activity, aliases in self.activities:
            names = (activity.id, activity.name_zh, *aliases)
            if any(_norm(n) == key for n in names if n):
                return activity
        for _set, rows in self.user_sets:
            for row in rows:
                if _norm(row.subject) == key:
                    return Activity(id=row.subject, kind="user", gas=row.gas)
        return None

    def activity_names(self) -> list[str]:
        """Every accepted activity spelling (ids, Chinese names, aliases, user subjects)."""
        names: list[str] = []
        for activity, aliases in self.activities:
            names.extend(n for n in (activity.id, activity.name_zh, *aliases) if n)
        for _set, rows in self.user_sets:
            names.extend(r.subject for r in rows)
        return names

    def close_activities(self, name: str, n: int = 3) -> list[str]:
        """Up to ``n`` known activity spellings close to ``name``."""
        return difflib.get_close_matches(name, self.activity_names(), n=n, cutoff=0.5)

    # ----- lookups ------------------------------------------------------------------
    def _layers(self, fuel_set: str) -> list[tuple[FactorRow, ...]]:
        self.check_fuel_set(fuel_set)
        return [rows for _name, rows in self.user_sets] + [self.fuel_sets[fuel_set], self.shared]

    def find(
        self,
        parameter: str,
        subject: str,
        *,
        fuel_set: str = DEFAULT_FACTOR_SET,
        gas: str = "",
        region: str = "",
        purpose: str = "",
        year: int | None = None,
    ) -> FactorRow:
        """The factor row for (parameter, subject, gas, region, purpose, year), user sets first.

        Within the first layer that has candidates, a row with ``data_year`` is chosen as the
        latest year not after ``year`` (the latest of all when ``year`` is None).

        Raises
        ------
        UnknownFactorError
            When no layer has the factor; the message lists what exists for the subject.
        """
        for rows in self._layers(fuel_set):
            candidates = [
                r
                for r in rows
                if r.parameter == parameter
                and _norm(r.subject) == _norm(subject)
                and (not gas or not r.gas or r.gas == gas)
                and r.region == region
                and r.purpose == purpose
            ]
            if not candidates:
                continue
            return _pick_year(candidates, year, parameter, subject)
        known = sorted(
            {
                f"{r.parameter}[gas={r.gas or '-'}, region={r.region or '-'}, purpose={r.purpose or '-'}]"
                for layer in self._layers(fuel_set)
                for r in layer
                if _norm(r.subject) == _norm(subject)
            }
        )
        raise UnknownFactorError(
            f"no {parameter} for {subject!r} (gas={gas or '-'}, region={region or '-'}, "
            f"purpose={purpose or '-'}) in factor set {fuel_set!r} or the shared tables; "
            f"known for {subject!r}: {known or 'nothing'}"
        )

    def regions(self, purpose: str) -> list[str]:
        """Grid regions that have factors of ``purpose``."""
        return sorted({r.region for r in self.shared if r.subject == "grid_electricity" and r.purpose == purpose})

    def gwp(self, gwp_set: str, gas: str, origin: str = "") -> FactorRow:
        """The GWP-100 row of ``gas`` in ``gwp_set``; ``origin`` (fossil/non_fossil) picks AR6's CH4 variants.

        Raises
        ------
        UnknownFactorError
            If the set lacks the gas; the message lists the gases it has.
        """
        name = self.check_gwp_set(gwp_set)
        rows = self.gwp_sets[name]
        for wanted_origin in (origin, "") if origin else ("",):
            for row in rows:
                if row.subject.upper() == gas.upper() and row.purpose == wanted_origin:
                    return row
        raise UnknownFactorError(
            f"GWP set {name!r} has no value for gas {gas!r}; it has {sorted({r.subject for r in rows})}"
        )


def _pick_year(candidates: list[FactorRow], year: int | None, parameter: str, subject: str) -> FactorRow:
    dated = [r for r in candidates if r.data_year is not None]
    if not dated:
        return candidates[0]
    if year is None:
        return max(dated, key=lambda r: r.data_year or 0)
    usable = [r for r in dated if (r.data_year or 0) <= year]
    if not usable:
        raise UnknownFactorError(
            f"no {parameter} for {subject!r} for year {year}; years available: "
            f"{sorted({r.data_year or 0 for r in dated})}"
        )
    return max(usable, key=lambda r: r.data_year or 0)


@lru_cache(maxsize=1)
def default_library() -> FactorLibrary:
    """The packaged library (fuel sets, shared tables, GWP sets, activity catalogue)."""
    fuel_sets = {
        info.name: tuple(row for name in info.files for row in _packaged_rows(name, info.name)) for info in _FUEL_SETS
    }
    shared = tuple(row for set_name, name in _SHARED_FILES for row in _packaged_rows(name, set_name))
    gwp_sets = {info.name: _packaged_rows(info.files[0], info.name) for info in _GWP_SETS}
    shared_infos = tuple(
        FactorSetInfo(set_name, "shared", "shared table used by every fuel set", (name,))
        for set_name, name in _SHARED_FILES
    )
    return FactorLibrary(
        fuel_sets=fuel_sets,
        shared=shared,
        gwp_sets=gwp_sets,
        activities=_packaged_activities(),
        infos=(*_FUEL_SETS, *_GWP_SETS, *shared_infos),
    )


def load_user_set(path: Path, name: str | None = None) -> tuple[str, list[FactorRow]]:
    """Read a user factor-set CSV file; the set is named after the file unless ``name`` is given."""
    set_name = name or path.stem
    return set_name, read_factor_csv(path.read_text(encoding="utf-8-sig"), set_name, where=str(path))
