"""Value checks of meter readings (C4): gaps, stuck values, spikes, negative steps and
rollovers of cumulative meters, timestamp skew, and the balance of a main meter against
its sub-meters.

Pure functions of numpy arrays: ``ts_ms`` (UTC epoch ms, ascending, unique) and
``values`` (the meter's canonical unit). Each check returns :class:`Finding` records;
:func:`check_meter` runs them all on one meter and also returns the quality bits
(:mod:`carbonpark.quality.flags`) each reading should carry.

Choices where the sources are silent (documented in ``docs/quality.md``):

* **Spikes** — a Hampel filter (moving median ± ``n_sigma`` × 1.4826 × MAD over
  ``2·half_window + 1`` readings), with a scale floor of ``floor_share`` × the meter's
  95th percentile of |value|. Without the floor a meter that is off most of the time
  (MAD 0) would have every switch-on flagged; with it, a spike must exceed the local
  median by at least ``n_sigma × floor_share`` (1.25 by default) × the meter's usual high level.
* **Stuck values** — a run of at least ``min_run`` identical non-zero readings whose value
  does not recur in ``recurring`` or more separate runs elsewhere in the series. A constant
  that recurs run after run is an operating level (a battery charging at rated power), a
  constant that holds once is a frozen meter or a frozen gateway. A series with many runs
  (10 or more: hourly values resampled to 15 minutes) must hold longer than twice its
  95th-percentile run length.
* **Rollover** — a backward step of a cumulative register is a rollover when the meter
  has a rollover value and ``step + rollover`` is a plausible step (not above ``max_step``,
  by default 20 × the 99th percentile of the positive steps); any other backward step is a
  ``negative_step``.

References
----------
The guide §4.1 (online verification of metered values, 实时的量值核查); Hampel, F. R. (1974),
"The influence curve and its role in robust estimation", JASA 69(346), 383–393; Pearson,
R. K. (2002), "Outliers in process modeling and identification", IEEE TCST 10(1), 55–63
(the Hampel identifier for process data); GB 17167-2006 §4.3 (metering of the main
energy-using unit and its sub-units).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from carbonpark.errors import ValidationError
from carbonpark.quality.flags import QualityFlag

__all__ = [
    "MAD_TO_SIGMA",
    "READING_KINDS",
    "Finding",
    "MeterReport",
    "MeterSeries",
    "balance",
    "check_meter",
    "cumulative_steps",
    "find_gaps",
    "find_skew",
    "find_spikes",
    "find_stuck",
]

#: 1/Φ⁻¹(3/4): the MAD of a normal sample times this estimates σ.
MAD_TO_SIGMA = 1.4826
_MS_PER_MIN = 60_000
_MANY_RUNS = 10
#: Kinds of meters whose readings the checks understand (virtual meters take no readings).
READING_KINDS = ("interval", "cumulative", "instantaneous")


@dataclass(frozen=True)
class Finding:
    """One thing a check found.

    Attributes
    ----------
    kind
        ``gap``, ``stuck``, ``spike``, ``negative_step``, ``rollover``, ``timestamp_skew``,
        ``future_timestamp``, ``imbalance``.
    meter
        Meter code or handle the finding is about (the main meter for ``imbalance``).
    start_ms, end_ms
        First and last affected timestamp [UTC epoch ms] (for a gap: first and last missing slot).
    count
        Readings affected (missing slots for a gap).
    detail
        Check-specific numbers (value held, spike size, imbalance ratio …).
    """

    kind: str
    meter: str
    start_ms: int
    end_ms: int
    count: int
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MeterSeries:
    """One meter's readings and what the checks need to know about the meter.

    Attributes
    ----------
    meter
        Code or handle (used in findings).
    ts_ms, values
        Timestamps [UTC epoch ms] and values [canonical unit]; sorted by time on construction.
    reading_kind
        ``interval`` (amount per interval), ``cumulative`` (a register) or ``instantaneous``
        (a rate sampled at the timestamp: power, flow; checked like interval values, never balanced).
    interval_minutes
        Reporting interval [min].
    rollover
        Register range of a cumulative meter (the value at which it wraps to 0), or ``None``.
    allow_negative
        True for meters whose interval amounts may be negative (net metering).
    """

    meter: str
    ts_ms: np.ndarray
    values: np.ndarray
    reading_kind: str = "interval"
    interval_minutes: int = 60
    rollover: float | None = None
    allow_negative: bool = False

    def __post_init__(self) -> None:
        ts = np.asarray(self.ts_ms, dtype=np.int64)
        values = np.asarray(self.values, dtype=float)
        if ts.shape != values.shape:
            raise ValidationError(f"meter {self.meter}", "as many timestamps as values", (ts.size, values.size))
        if self.reading_kind not in READING_KINDS:
            raise ValidationError(f"meter {self.meter}, reading_kind", f"one of {READING_KINDS}", self.reading_kind)
        if self.interval_minutes <= 0:
            raise ValidationError(f"meter {self.meter}, interval_minutes", "a positive number", self.interval_minutes)
        order = np.argsort(ts, kind="stable")
        object.__setattr__(self, "ts_ms", ts[order])
        object.__setattr__(self, "values", values[order])

    @property
    def interval_ms(self) -> int:
        """Reporting interval [ms]."""
        return int(self.interval_minutes) * _MS_PER_MIN


@dataclass
class MeterReport:
    """What :func:`check_meter` found on one meter, and the quality bits per reading."""

    meter: str
    findings: list[Finding]
    flags: np.ndarray  # one int per reading, in time order
    amounts: np.ndarray  # interval amounts (register steps for cumulative meters; first is NaN)

    def count(self, kind: str) -> int:
        """Number of findings of ``kind``."""
        return sum(1 for f in self.findings if f.kind == kind)


# --------------------------------------------------------------------------- runs helper
def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs of True in ``mask`` as (first index, last index) pairs."""
    if mask.size == 0:
        return []
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2], strict=True)]


# --------------------------------------------------------------------------- gaps
def find_gaps(
    meter: str,
    ts_ms: np.ndarray,
    interval_ms: int,
    *,
    start_ms: int | None = None,
    end_ms: int | None = None,
) -> list[Finding]:
    """Missing reporting slots: steps longer than one interval, and missing edges of a window.

    Parameters
    ----------
    meter
        Code or handle for the findings.
    ts_ms
        Sorted timestamps [UTC epoch ms].
    interval_ms
        Reporting interval [ms].
    start_ms, end_ms
        Optional window ``[start, end)``: slots missing before the first or after the last
        reading inside it are gaps too.

    Returns
    -------
    list of Finding
        ``kind="gap"``, ``count`` = missing slots, ``start_ms``/``end_ms`` = first/last missing slot.
    """
    ts = np.asarray(ts_ms, dtype=np.int64)
    out: list[Finding] = []
    if ts.size == 0:
        if start_ms is not None and end_ms is not None and end_ms > start_ms:
            n = (end_ms - start_ms) // interval_ms
            out.append(Finding("gap", meter, start_ms, start_ms + (n - 1) * interval_ms, int(n)))
        return out
    if start_ms is not None and ts[0] - start_ms >= interval_ms:
        n = int((ts[0] - start_ms) // interval_ms)
        out.append(Finding("gap", meter, int(ts[0] - n * interval_ms), int(ts[0] - interval_ms), n))
    steps = np.diff(ts)
    for i in np.flatnonzero(steps >= 2 * interval_ms - interval_ms // 2):
        missing = int(np.rint(steps[i] / interval_ms)) - 1
        if missing >= 1:
            out.append(Finding("gap", meter, int(ts[i] + interval_ms), int(ts[i + 1] - interval_ms), missing))
    if end_ms is not None and end_ms - ts[-1] > interval_ms:
        n = int((end_ms - ts[-1] - 1) // interval_ms)
        if n >= 1:
            out.append(Finding("gap", meter, int(ts[-1] + interval_ms), int(ts[-1] + n * interval_ms), n))
    return out


# --------------------------------------------------------------------------- stuck
def find_stuck(
    values: np.ndarray, *, min_run: int = 6, recurring: int = 3, ignore_zero: bool = True
) -> list[tuple[int, int]]:
    """Runs of a frozen value: (first index, last index) of each.

    Parameters
    ----------
    values
        Readings in time order.
    min_run
        Fewest identical consecutive readings that count as stuck.
    recurring
        A value held in this many separate runs (of length ≥ 2) is an operating level, not a fault.
    ignore_zero
        Zero runs are a stopped load, not a frozen meter (true by default).
    """
    v = np.asarray(values, dtype=float)
    if v.size < 2:
        return []
    same = np.concatenate([[False], v[1:] == v[:-1]])
    # a run of k equal readings is k-1 "same as previous" marks plus its first reading
    runs = [(a - 1, b) for a, b in _runs(same)]
    if ignore_zero:
        runs = [(a, b) for a, b in runs if v[a] != 0.0]
    held: dict[float, int] = {}
    for a, _ in runs:
        held[float(v[a])] = held.get(float(v[a]), 0) + 1
    lengths = np.array([b - a + 1 for a, b in runs])
    # a series that is piecewise constant by nature (hourly values resampled to 15 min) has many
    # short runs: only a run longer than twice its usual long run is frozen
    longest_usual = float(np.percentile(lengths, 95)) if lengths.size >= _MANY_RUNS else 1.0
    return [
        (a, b)
        for a, b in runs
        if b - a + 1 >= min_run and b - a + 1 > 2 * longest_usual and held[float(v[a])] < recurring
    ]


# --------------------------------------------------------------------------- spikes
def find_spikes(
    values: np.ndarray, *, half_window: int = 3, n_sigma: float = 5.0, floor_share: float = 0.25
) -> np.ndarray:
    """Indices of spikes by a Hampel filter with a scale floor (see the module notes).

    Parameters
    ----------
    values
        Readings (interval amounts) in time order; NaN are ignored.
    half_window
        Readings each side of the centre in the moving window.
    n_sigma
        Threshold in robust standard deviations.
    floor_share
        Floor of the robust scale as a share of the series' 95th percentile of |value|.

    Returns
    -------
    numpy.ndarray
        Sorted indices of the readings flagged as spikes.
    """
    v = np.asarray(values, dtype=float)
    finite = np.isfinite(v)
    if finite.sum() < 2 * half_window + 1:
        return np.array([], dtype=np.int64)
    s = pd.Series(v)
    window = 2 * half_window + 1
    med = s.rolling(window, center=True, min_periods=half_window + 1).median()
    mad = (s - med).abs().rolling(window, center=True, min_periods=half_window + 1).median()
    floor = floor_share * float(np.nanpercentile(np.abs(v[finite]), 95))
    scale = np.maximum(MAD_TO_SIGMA * mad.to_numpy(), floor)
    dev = np.abs(v - med.to_numpy())
    hit = finite & np.isfinite(dev) & (dev > n_sigma * scale) & (scale > 0)
    return np.flatnonzero(hit)


# --------------------------------------------------------------------------- cumulative
def cumulative_steps(
    values: np.ndarray, rollover: float | None, *, max_step: float | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interval amounts of a cumulative register, and where it rolled over or went back.

    Parameters
    ----------
    values
        Register readings in time order [canonical unit].
    rollover
        Register range (it wraps from just below ``rollover`` to 0), or ``None``.
    max_step
        Largest plausible step; default 20 × the 99th percentile of the positive steps.

    Returns
    -------
    steps, rollovers, negatives
        ``steps[i]`` is the amount between reading ``i-1`` and ``i`` (``steps[0]`` NaN;
        a rollover step is taken modulo the range, a negative step is NaN);
        indices (of the later reading) of rollovers and of negative steps.

    Examples
    --------
    A 5-digit register wrapping at 100 000: 99 990 → 30 is a step of 40.

    >>> s, r, n = cumulative_steps(np.array([99_980.0, 99_990.0, 30.0]), 100_000.0)
    >>> s[2], r.tolist(), n.tolist()
    (np.float64(40.0), [2], [])
    """
    v = np.asarray(values, dtype=float)
    steps = np.full(v.size, np.nan)
    if v.size < 2:
        return steps, np.array([], dtype=np.int64), np.array([], dtype=np.int64)
    d = np.diff(v)
    positive = d[d >= 0]
    if max_step is None:
        max_step = 20.0 * float(np.percentile(positive, 99)) if positive.size else np.inf
    back = np.flatnonzero(d < 0)
    roll: list[int] = []
    neg: list[int] = []
    for i in back:
        wrapped = d[i] + rollover if rollover else None
        if wrapped is not None and 0 <= wrapped <= max_step:
            roll.append(int(i) + 1)
            d[i] = wrapped
        else:
            neg.append(int(i) + 1)
            d[i] = np.nan
    steps[1:] = d
    return steps, np.array(roll, dtype=np.int64), np.array(neg, dtype=np.int64)


# --------------------------------------------------------------------------- skew
def find_skew(
    meter: str,
    ts_ms: np.ndarray,
    interval_ms: int,
    *,
    tolerance_ms: int | None = None,
    now_ms: int | None = None,
) -> tuple[list[Finding], np.ndarray]:
    """Readings off the reporting grid by more than a tolerance, and readings from the future.

    A meter reporting every ``interval`` should stamp its readings on the grid (hh:00,
    hh:15 …, park-local; the grid of UTC epoch ms is the same for whole-minute offsets).
    A reading off the grid by more than ``tolerance_ms`` (default 1 % of the interval, at
    least 1 s) shows a device clock that drifts; one stamped after ``now_ms`` comes from a
    clock that runs ahead.

    Returns
    -------
    findings, skewed
        One finding per run of skewed readings (detail: median offset [s]) and one for
        future readings; a boolean mask of the readings to flag.
    """
    ts = np.asarray(ts_ms, dtype=np.int64)
    tol = tolerance_ms if tolerance_ms is not None else max(1000, interval_ms // 100)
    offset = ((ts + interval_ms // 2) % interval_ms) - interval_ms // 2  # signed distance to the grid
    skewed = np.abs(offset) > tol
    out: list[Finding] = []
    for a, b in _runs(skewed):
        out.append(
            Finding(
                "timestamp_skew",
                meter,
                int(ts[a]),
                int(ts[b]),
                b - a + 1,
                {"median_offset_s": float(np.median(offset[a : b + 1])) / 1000, "tolerance_s": tol / 1000},
            )
        )
    if now_ms is not None:
        future = ts > now_ms + tol
        if future.any():
            idx = np.flatnonzero(future)
            out.append(
                Finding(
                    "future_timestamp",
                    meter,
                    int(ts[idx[0]]),
                    int(ts[idx[-1]]),
                    int(idx.size),
                    {"ahead_s": float(ts[idx[-1]] - now_ms) / 1000},
                )
            )
            skewed = skewed | future
    return out, skewed


# --------------------------------------------------------------------------- balance
def _bucket_sums(ts_ms: np.ndarray, amounts: np.ndarray, freq: str, tz: str) -> tuple[pd.Series, pd.Series]:
    idx = pd.to_datetime(np.asarray(ts_ms, dtype=np.int64), unit="ms", utc=True).tz_convert(tz)
    s = pd.Series(np.asarray(amounts, dtype=float), index=idx)
    keys = s.index.floor(freq) if freq != "D" else s.index.normalize()
    grouped = s.groupby(keys)
    return grouped.sum(min_count=1), grouped.count()


def balance(
    main: str,
    main_ts: np.ndarray,
    main_amounts: np.ndarray,
    subs: Sequence[tuple[str, np.ndarray, np.ndarray]],
    *,
    tolerance: float = 0.05,
    freq: str = "D",
    tz: str = "Asia/Shanghai",
    expected_per_bucket: dict[str, int] | None = None,
) -> tuple[list[Finding], pd.DataFrame]:
    """Compare a main meter with the sum of its sub-meters per period.

    ``imbalance = (main − Σ subs) / main``; a period whose |imbalance| exceeds
    ``tolerance`` is a finding. Losses between the main meter and the sub-meters
    (transformer and line losses, typically a few per cent) are inside the default 5 %.

    Parameters
    ----------
    main, main_ts, main_amounts
        The main meter's code and its interval amounts (register steps for a cumulative meter).
    subs
        ``(code, ts_ms, amounts)`` of each sub-meter.
    tolerance
        Largest accepted |imbalance| [fraction].
    freq
        Period of comparison (pandas offset alias: ``D`` day, ``h`` hour).
    tz
        Time zone whose calendar days (or hours) are compared.
    expected_per_bucket
        Readings each meter should have per period (code → n); a period is ``complete``
        when every meter has them all.

    Returns
    -------
    findings, table
        One finding per imbalanced period (detail: main, sum of subs, imbalance, complete)
        and the table of every period (columns ``main``, ``subs``, ``imbalance``, ``complete``).
    """
    if not 0 < tolerance < 1:
        raise ValidationError("tolerance", "a fraction between 0 and 1", tolerance)
    m_sum, m_n = _bucket_sums(main_ts, main_amounts, freq, tz)
    sub_sum = pd.Series(0.0, index=m_sum.index)
    complete = pd.Series(True, index=m_sum.index)
    expected = expected_per_bucket or {}
    if main in expected:
        complete &= m_n.reindex(m_sum.index).fillna(0) >= expected[main]
    for code, ts, amounts in subs:
        s_sum, s_n = _bucket_sums(ts, amounts, freq, tz)
        sub_sum = sub_sum.add(s_sum.reindex(m_sum.index).fillna(0.0), fill_value=0.0)
        if code in expected:
            complete &= s_n.reindex(m_sum.index).fillna(0) >= expected[code]
        else:
            complete &= s_n.reindex(m_sum.index).fillna(0) > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (m_sum - sub_sum) / m_sum
    table = pd.DataFrame({"main": m_sum, "subs": sub_sum, "imbalance": ratio, "complete": complete})
    findings: list[Finding] = []
    period_ms = pd.Timedelta(1, unit=freq if freq != "D" else "D") // pd.Timedelta(milliseconds=1)
    for key, row in table.iterrows():
        bad = (row["main"] > 0 and abs(row["imbalance"]) > tolerance) or (row["main"] <= 0 < row["subs"])
        if bad:
            start = int(pd.Timestamp(key).value // 1_000_000)
            findings.append(
                Finding(
                    "imbalance",
                    main,
                    start,
                    start + int(period_ms) - 1,
                    1,
                    {
                        "main": float(row["main"]),
                        "subs": float(row["subs"]),
                        "imbalance": float(row["imbalance"]) if np.isfinite(row["imbalance"]) else None,
                        "tolerance": tolerance,
                        "complete": bool(row["complete"]),
                        "sub_meters": [c for c, _, _ in subs],
                    },
                )
            )
    return findings, table


# --------------------------------------------------------------------------- one meter
def check_meter(
    series: MeterSeries,
    *,
    start_ms: int | None = None,
    end_ms: int | None = None,
    now_ms: int | None = None,
    min_run: int = 6,
    half_window: int = 3,
    n_sigma: float = 5.0,
) -> MeterReport:
    """Run every single-meter check and return the findings and each reading's quality bits.

    Gaps, timestamp skew, stuck values, spikes (on the interval amounts: register steps
    for a cumulative meter), negative amounts and rollovers. The balance against
    sub-meters needs several meters: :func:`balance`.
    """
    ts, v = series.ts_ms, series.values
    flags = np.zeros(v.size, dtype=np.int64)
    findings = find_gaps(series.meter, ts, series.interval_ms, start_ms=start_ms, end_ms=end_ms)
    skew_findings, skewed = find_skew(series.meter, ts, series.interval_ms, now_ms=now_ms)
    findings += skew_findings
    flags[skewed] |= QualityFlag.TIMESTAMP_SKEW
    if series.reading_kind == "cumulative":
        amounts, rolls, negs = cumulative_steps(v, series.rollover)
        for i in rolls:
            flags[i] |= QualityFlag.ROLLOVER
            findings.append(
                Finding(
                    "rollover",
                    series.meter,
                    int(ts[i]),
                    int(ts[i]),
                    1,
                    {"before": float(v[i - 1]), "after": float(v[i]), "rollover": series.rollover},
                )
            )
        for i in negs:
            flags[i] |= QualityFlag.NEGATIVE_STEP
            findings.append(
                Finding(
                    "negative_step",
                    series.meter,
                    int(ts[i]),
                    int(ts[i]),
                    1,
                    {"before": float(v[i - 1]), "after": float(v[i])},
                )
            )
        stuck_on = v  # a frozen register
    else:
        amounts = v.copy()
        if not series.allow_negative:
            for a, b in _runs(v < 0):
                flags[a : b + 1] |= QualityFlag.NEGATIVE_STEP
                findings.append(
                    Finding(
                        "negative_step",
                        series.meter,
                        int(ts[a]),
                        int(ts[b]),
                        b - a + 1,
                        {"min_value": float(v[a : b + 1].min())},
                    )
                )
        stuck_on = v
    for a, b in find_stuck(stuck_on, min_run=min_run):
        flags[a : b + 1] |= QualityFlag.STUCK
        findings.append(
            Finding("stuck", series.meter, int(ts[a]), int(ts[b]), b - a + 1, {"value": float(stuck_on[a])})
        )
    spikes = find_spikes(amounts, half_window=half_window, n_sigma=n_sigma)
    if spikes.size:
        med = float(np.nanmedian(amounts))
        for a, b in _runs(np.isin(np.arange(v.size), spikes)):
            flags[a : b + 1] |= QualityFlag.SUSPECT_SPIKE
            peak = float(np.nanmax(np.abs(amounts[a : b + 1])))
            findings.append(
                Finding(
                    "spike",
                    series.meter,
                    int(ts[a]),
                    int(ts[b]),
                    b - a + 1,
                    {"value": peak, "series_median": med, "ratio_to_median": peak / med if med else None},
                )
            )
    findings.sort(key=lambda f: (f.start_ms, f.kind))
    return MeterReport(series.meter, findings, flags, amounts)
