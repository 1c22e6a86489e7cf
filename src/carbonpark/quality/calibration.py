"""Calibration (检定/校准) of meters: accuracy classes, due dates, remote online calibration.

* :func:`mpe_percent` turns an accuracy class (``0.5S``, ``1.0``, ``2.5``) into the maximum
  permissible error [%] it stands for.
* :func:`calibration_due` lists, from the calibration records, which meters are overdue,
  due soon, failed their last calibration or were never calibrated.
* :func:`online_calibration` compares a meter in service with a movable reference meter
  run in parallel on the same load (the guide §4.1: 可移动式计量标准进行远程在线校准): the
  relative error of the meter's total against the reference's total over the comparison,
  judged against the meter's class, gives a calibration record.

Choices where the sources are silent (see ``docs/quality.md``): the reference must be at
least three times as accurate as the meter (its MPE at most a third of the meter's, the
usual 1/3 rule of metrological verification, JJF 1094-2002); the verdict is
``|error| ≤ MPE``; the next due date keeps the meter's previous calibration cycle (365 days
when there is none).

References
----------
The guide §4.1; GB 17167-2006 §5 (management of energy measuring instruments: calibration
records and cycles); JJF 1094-2002 (evaluation of the characteristics of measuring
instruments, the 1/3 rule); GB/T 17215.321 / .322 (class indices of active-energy meters:
class c means a percentage error within ±c % at reference conditions).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np

from carbonpark.errors import ValidationError

__all__ = [
    "CalibrationRecord",
    "OnlineCalibration",
    "calibration_due",
    "class_meets",
    "mpe_percent",
    "online_calibration",
]

_CLASS = re.compile(r"^\s*(?:class\s*)?(\d+(?:\.\d+)?)\s*(S?)\s*$", re.IGNORECASE)
#: The 1/3 rule: the reference's MPE may be at most this share of the meter's.
REFERENCE_RATIO = 1 / 3
DEFAULT_CYCLE_DAYS = 365


def _parse_class(accuracy_class: str) -> tuple[float, bool]:
    m = _CLASS.match(str(accuracy_class))
    if not m:
        raise ValidationError("accuracy_class", "a class index such as 0.2S, 0.5S, 1.0, 2.0 or 2.5", accuracy_class)
    return float(m.group(1)), bool(m.group(2))


def mpe_percent(accuracy_class: str) -> float:
    """Maximum permissible error [%] of an accuracy class (``0.5S`` → 0.5, ``2.5`` → 2.5).

    The class index of an energy meter or flow meter is its percentage error limit at
    reference conditions (GB/T 17215.321 / .322); the ``S`` suffix tightens the low-current
    range and does not change the limit at the comparison's load.
    """
    return _parse_class(accuracy_class)[0]


def class_meets(actual: str, required: str) -> bool:
    """True when a meter of class ``actual`` satisfies a requirement of class ``required``.

    A smaller index is more accurate; a required ``S`` class is met only by an ``S`` class
    of the same or smaller index (``0.5S`` meets ``1.0`` and ``0.5S``, ``0.5`` does not meet ``0.5S``).
    """
    a, a_s = _parse_class(actual)
    r, r_s = _parse_class(required)
    if r_s and not a_s:
        return a < r
    return a <= r


@dataclass(frozen=True)
class CalibrationRecord:
    """A calibration of a meter as stored (``calibrations`` table)."""

    meter: str
    calibrated_on: date
    due_on: date
    passed: bool = True
    certificate: str = ""


def calibration_due(
    records: Iterable[CalibrationRecord],
    *,
    today: date,
    horizon_days: int = 30,
    meters: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Calibration status of every meter, most urgent first.

    Parameters
    ----------
    records
        Calibration records; the latest (by ``calibrated_on``) of each meter counts.
    today
        Reference date.
    horizon_days
        A meter due within this many days is ``due_soon``.
    meters
        Every meter of the park: those without a record are ``never``.

    Returns
    -------
    list of dict
        ``meter``, ``status`` (``failed``, ``overdue``, ``never``, ``due_soon``, ``ok``),
        ``calibrated_on``, ``due_on``, ``days_left`` (negative when overdue), ``certificate``.
    """
    latest: dict[str, CalibrationRecord] = {}
    for r in records:
        if r.meter not in latest or r.calibrated_on >= latest[r.meter].calibrated_on:
            latest[r.meter] = r
    rank = {"failed": 0, "overdue": 1, "never": 2, "due_soon": 3, "ok": 4}
    out: list[dict[str, Any]] = []
    for meter in dict.fromkeys([*meters, *latest]):
        last = latest.get(meter)
        if last is None:
            out.append(
                {
                    "meter": meter,
                    "status": "never",
                    "calibrated_on": None,
                    "due_on": None,
                    "days_left": None,
                    "certificate": "",
                }
            )
            continue
        days = (last.due_on - today).days
        if not last.passed:
            status = "failed"
        else:
            status = "overdue" if days < 0 else "due_soon" if days <= horizon_days else "ok"
        out.append(
            {
                "meter": meter,
                "status": status,
                "calibrated_on": last.calibrated_on,
                "due_on": last.due_on,
                "days_left": days,
                "certificate": last.certificate,
            }
        )
    out.sort(key=lambda d: (rank[d["status"]], d["days_left"] if d["days_left"] is not None else 0, d["meter"]))
    return out


@dataclass(frozen=True)
class OnlineCalibration:
    """Result of a parallel comparison against a movable reference meter.

    Attributes
    ----------
    meter, reference
        The meter under test and the reference (codes, serials).
    intervals
        Number of paired intervals compared.
    meter_total, reference_total
        Amounts over the comparison [meter's unit].
    error_pct
        ``(meter_total − reference_total) / reference_total × 100`` [%].
    interval_error_sd_pct
        Standard deviation of the per-interval relative errors [%] (stability of the comparison).
    mpe_pct, reference_mpe_pct
        Maximum permissible errors of the meter's and the reference's classes [%].
    passed
        ``|error_pct| ≤ mpe_pct``.
    calibrated_on, due_on
        Date of the comparison and the next due date.
    """

    meter: str
    reference: str
    intervals: int
    meter_total: float
    reference_total: float
    error_pct: float
    interval_error_sd_pct: float
    mpe_pct: float
    reference_mpe_pct: float
    passed: bool
    calibrated_on: date
    due_on: date

    @property
    def certificate(self) -> str:
        """Certificate number of the online calibration record."""
        return f"ONLINE-{self.meter}-{self.calibrated_on:%Y%m%d}"

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return {
            "meter": self.meter,
            "reference": self.reference,
            "intervals": self.intervals,
            "meter_total": self.meter_total,
            "reference_total": self.reference_total,
            "error_pct": self.error_pct,
            "interval_error_sd_pct": self.interval_error_sd_pct,
            "mpe_pct": self.mpe_pct,
            "reference_mpe_pct": self.reference_mpe_pct,
            "passed": self.passed,
            "calibrated_on": self.calibrated_on.isoformat(),
            "due_on": self.due_on.isoformat(),
            "certificate": self.certificate,
        }


def online_calibration(
    meter: str,
    meter_values: Sequence[float] | np.ndarray,
    reference_values: Sequence[float] | np.ndarray,
    *,
    accuracy_class: str,
    reference: str,
    reference_class: str,
    calibrated_on: date,
    cycle_days: int = DEFAULT_CYCLE_DAYS,
    min_intervals: int = 4,
) -> OnlineCalibration:
    """Judge a meter by a parallel comparison with a movable reference meter.

    Parameters
    ----------
    meter, reference
        Names of the meter under test and of the reference.
    meter_values, reference_values
        Interval amounts of the same intervals [same unit], paired by position.
    accuracy_class, reference_class
        Classes of the meter and of the reference (``0.5S``, ``0.2S``, ``0.05`` …).
    calibrated_on
        Date of the comparison.
    cycle_days
        Days to the next calibration.
    min_intervals
        Fewest paired intervals accepted.

    Raises
    ------
    ValidationError
        Unequal lengths, too few intervals, a reference total of zero or less, or a
        reference whose MPE exceeds a third of the meter's.

    Examples
    --------
    A class 1.0 meter reading 1 008 kWh where a class 0.2 reference read 1 000 kWh has an
    error of +0.8 % and passes (|0.8| ≤ 1.0).
    """
    m = np.asarray(meter_values, dtype=float)
    r = np.asarray(reference_values, dtype=float)
    if m.shape != r.shape:
        raise ValidationError("online calibration", "as many reference intervals as meter intervals", (m.size, r.size))
    keep = np.isfinite(m) & np.isfinite(r)
    m, r = m[keep], r[keep]
    if m.size < min_intervals:
        raise ValidationError("online calibration", f"at least {min_intervals} paired intervals", int(m.size))
    mpe = mpe_percent(accuracy_class)
    ref_mpe = mpe_percent(reference_class)
    if ref_mpe > mpe * REFERENCE_RATIO + 1e-12:
        raise ValidationError(
            "reference_class",
            f"a reference at least 3 times as accurate as class {accuracy_class} (MPE ≤ {mpe * REFERENCE_RATIO:.3g} %)",
            reference_class,
        )
    ref_total = float(r.sum())
    if ref_total <= 0:
        raise ValidationError("online calibration", "a positive reference total", ref_total)
    meter_total = float(m.sum())
    error = (meter_total - ref_total) / ref_total * 100
    with np.errstate(divide="ignore", invalid="ignore"):
        per = np.where(r > 0, (m - r) / r * 100, np.nan)
    sd = float(np.nanstd(per, ddof=1)) if np.isfinite(per).sum() > 1 else 0.0
    return OnlineCalibration(
        meter=meter,
        reference=reference,
        intervals=int(m.size),
        meter_total=meter_total,
        reference_total=ref_total,
        error_pct=error,
        interval_error_sd_pct=sd,
        mpe_pct=mpe,
        reference_mpe_pct=ref_mpe,
        passed=abs(error) <= mpe,
        calibrated_on=calibrated_on,
        due_on=calibrated_on + timedelta(days=cycle_days),
    )
