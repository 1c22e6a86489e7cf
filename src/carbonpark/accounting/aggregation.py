"""Meter readings to activity data per local calendar period (pure, NumPy).

Conventions
-----------
* A reading's timestamp is the *label of the interval it measures*: an interval meter's value
  stamped ``t`` is the amount used in the interval that starts at ``t`` (``[t, t + Δ)``); a
  cumulative register stamped ``t`` closes that same interval, so the advance
  ``r_i − r_{i−1}`` is the amount of the interval labelled ``t_i``. Both kinds then put the same
  amount in the same period, and period sums add up: months sum to the year exactly.
* A register that goes down wraps at ``rollover`` (``step + rollover``); a drop on a meter
  without ``rollover`` is not counted and is reported (meter replaced or faulty).
* A register advance over a gap of ``k`` nominal intervals is spread evenly over the ``k``
  interval labels it covers (linear interpolation) and counts as *estimated*.
* ``flagged`` is the amount resting on readings whose quality flag has a *flagged* bit (a
  register advance is flagged when either end is); ``estimated`` the amount resting on readings
  with an *estimate* bit, plus gap-bridged advances (bits: :mod:`carbonpark.quality.flags`).
* Periods are local calendar periods (hour, day, calendar month, year) of the park's zone.
* Organisational levels (:func:`level_labels`): a meter hangs at a site of the registry; the
  outermost site of its parent chain is its *site*, the nearest site of kind ``workshop`` on
  the chain its *workshop*, and the meter's device its *device*. A level the registry does not
  place the meter at is labelled :data:`UNPLACED`, so that at every level the totals add up to
  the enterprise total (nothing falls out of a level).

References
----------
The guide §4.1 (energy metering, collection and statistics), §4.2 (activity data); GB 17167-2006
(metering of energy use); SPEC C5 (aggregation, late data re-aggregated).
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from carbonpark.errors import ValidationError

__all__ = [
    "LEVELS",
    "RESOLUTIONS",
    "UNPLACED",
    "Buckets",
    "PeriodAmounts",
    "VirtualFormula",
    "bucket_amounts",
    "level_labels",
    "period_buckets",
    "period_label",
    "share",
]

#: Aggregation resolutions: local calendar hour, day, month, year.
RESOLUTIONS: tuple[str, ...] = ("hour", "day", "month", "year")
_FREQ = {"hour": "h", "day": "D", "month": "MS", "year": "YS"}
_LABEL = {"hour": "%Y-%m-%dT%H", "day": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}
#: Organisational levels below the enterprise that activity data are placed at.
LEVELS: tuple[str, ...] = ("site", "workshop", "device")
#: Label of a level the registry does not place a meter (or a hand-entered datum) at.
UNPLACED = "(unplaced)"


def _check_resolution(resolution: str) -> str:
    if resolution not in RESOLUTIONS:
        raise ValidationError("resolution", f"one of {', '.join(RESOLUTIONS)}", resolution)
    return resolution


@dataclass(frozen=True)
class Buckets:
    """Consecutive local calendar periods: ``edges_ms`` has one more entry than ``labels``."""

    resolution: str
    labels: tuple[str, ...]
    edges_ms: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def bounds(self, i: int) -> tuple[int, int]:
        """Start (inclusive) and end (exclusive) of bucket ``i`` [UTC epoch ms]."""
        return int(self.edges_ms[i]), int(self.edges_ms[i + 1])

    def index_of(self, ts_ms: np.ndarray) -> np.ndarray:
        """Bucket index of each timestamp; −1 or ``len`` when outside."""
        return np.searchsorted(self.edges_ms, ts_ms, side="right") - 1


def period_label(ts_ms: int, resolution: str, tz: str) -> str:
    """The label of the local period that contains ``ts_ms`` (``2025-01``, ``2025-01-05T13`` …)."""
    moment = pd.Timestamp(ts_ms, unit="ms", tz="UTC").tz_convert(tz)
    return moment.strftime(_LABEL[_check_resolution(resolution)])


def period_buckets(start_ms: int, end_ms: int, resolution: str, tz: str) -> Buckets:
    """The local calendar periods of ``resolution`` that cover ``[start_ms, end_ms)``.

    ``start_ms`` is moved back to the start of its period and ``end_ms`` forward to the end of
    its period, so the buckets are whole periods.
    """
    _check_resolution(resolution)
    if end_ms <= start_ms:
        raise ValidationError("period", "an end after the start", (start_ms, end_ms))
    start = pd.Timestamp(start_ms, unit="ms", tz="UTC").tz_convert(tz)
    end = pd.Timestamp(end_ms, unit="ms", tz="UTC").tz_convert(tz)
    floor = {
        "hour": start.floor("h", ambiguous=False, nonexistent="shift_backward"),
        "day": start.normalize(),
        "month": start.normalize().replace(day=1),
        "year": start.normalize().replace(month=1, day=1),
    }[resolution]
    stamps = pd.date_range(floor, end, freq=_FREQ[resolution], inclusive="left")
    last = stamps[-1] + pd.tseries.frequencies.to_offset(_FREQ[resolution])
    all_stamps = stamps.append(pd.DatetimeIndex([last]))
    edges = (all_stamps.tz_convert("UTC").as_unit("ms").asi8).astype(np.int64)
    labels = tuple(stamps.strftime(_LABEL[resolution]))
    return Buckets(resolution, labels, edges)


@dataclass(frozen=True)
class PeriodAmounts:
    """Amounts of one meter per bucket [meter unit], with quality parts.

    ``n_readings`` counts the readings (interval meters) or register advances (cumulative
    meters) that contribute to each bucket; a bucket with none has no data (a gap, not a zero).
    """

    amount: np.ndarray
    estimated: np.ndarray
    flagged: np.ndarray
    n_readings: np.ndarray
    notes: tuple[str, ...] = ()


def bucket_amounts(
    ts_ms: np.ndarray,
    values: np.ndarray,
    quality: np.ndarray,
    buckets: Buckets,
    *,
    kind: str,
    interval_minutes: int,
    rollover: float | None = None,
    estimated_mask: int = 0,
    flagged_mask: int = -1,
) -> PeriodAmounts:
    """Amounts per bucket of one meter's readings (sorted by time).

    Parameters
    ----------
    ts_ms, values, quality
        Readings [UTC epoch ms, meter unit, quality flag]. For a cumulative meter include the
        last reading before the first bucket and the first one after the last bucket, so that
        the advances at the edges are known.
    kind
        ``interval`` (each value is the amount of its interval) or ``cumulative`` (a register).
    interval_minutes
        Nominal interval [min]; a register advance over more than one interval is a gap.
    rollover
        Register maximum of a cumulative meter, where it wraps to zero.
    estimated_mask, flagged_mask
        Bits of the quality flag that make a reading *estimated* and *flagged*
        (:data:`carbonpark.quality.ESTIMATE_MASK`, :data:`carbonpark.quality.FLAGGED_MASK`);
        by default no reading is estimated and any non-zero flag is flagged.

    Raises
    ------
    ValidationError
        For another ``kind`` (instantaneous meters measure a rate, not an amount).
    """
    n = len(buckets)
    ts = np.asarray(ts_ms, dtype=np.int64)
    val = np.asarray(values, dtype=float)
    q = np.asarray(quality, dtype=np.int64)
    est_mask_q = (q & estimated_mask) != 0
    flag_q = (q & flagged_mask) != 0
    notes: list[str] = []
    if kind == "interval":
        idx = buckets.index_of(ts)
        inside = (idx >= 0) & (idx < n)
        idx, v, flagged_q, est_q = idx[inside], val[inside], flag_q[inside], est_mask_q[inside]
        return PeriodAmounts(
            np.bincount(idx, v, n),
            np.bincount(idx, v * est_q, n),
            np.bincount(idx, v * flagged_q, n),
            np.bincount(idx, minlength=n).astype(np.int64),
        )
    if kind != "cumulative":
        raise ValidationError("meter reading_kind", "interval or cumulative (an amount, not a rate)", kind)
    step_ms = interval_minutes * 60_000
    steps = np.diff(val)
    if rollover:
        steps = np.where(steps < 0, steps + rollover, steps)
    negative = steps < 0
    if negative.any():
        notes.append(
            f"{int(negative.sum())} register drop(s) without a rollover value not counted "
            f"({-float(steps[negative].sum()):g}); meter replaced or faulty?"
        )
        steps = np.where(negative, 0.0, steps)
    ends = ts[1:]
    flagged_step = flag_q[1:] | flag_q[:-1]
    est_step = est_mask_q[1:] | est_mask_q[:-1]
    spans = np.maximum(np.rint(np.diff(ts) / step_ms).astype(np.int64), 1)
    amount = np.zeros(n)
    estimated = np.zeros(n)
    flagged = np.zeros(n)
    count = np.zeros(n, dtype=np.int64)
    simple = spans == 1
    idx = buckets.index_of(ends[simple])
    inside = (idx >= 0) & (idx < n)
    s_idx, s_val = idx[inside], steps[simple][inside]
    amount += np.bincount(s_idx, s_val, n)
    estimated += np.bincount(s_idx, s_val * est_step[simple][inside], n)
    flagged += np.bincount(s_idx, s_val * flagged_step[simple][inside], n)
    count += np.bincount(s_idx, minlength=n)
    bridged = 0
    for i in np.flatnonzero(~simple):
        k = int(spans[i])
        labels = ends[i] - step_ms * np.arange(k - 1, -1, -1, dtype=np.int64)
        part = steps[i] / k
        b = buckets.index_of(labels)
        b = b[(b >= 0) & (b < n)]
        if len(b) == 0:
            continue
        bridged += 1
        np.add.at(amount, b, part)
        np.add.at(estimated, b, part)
        if flagged_step[i]:
            np.add.at(flagged, b, part)
        count[np.unique(b)] += 1  # the advance is a reading contributing to each period it reaches
    if bridged:
        notes.append(f"{bridged} register advance(s) over a gap spread evenly over the missed intervals (estimated)")
    return PeriodAmounts(amount, estimated, flagged, count, tuple(notes))


# --------------------------------------------------------------------- virtual meters
_REF = re.compile(r"\{([^{}]+)\}")
_ALLOWED_CALLS: dict[str, Callable[..., np.ndarray]] = {
    "max": lambda *a: np.maximum.reduce(np.broadcast_arrays(*a)),
    "min": lambda *a: np.minimum.reduce(np.broadcast_arrays(*a)),
    "abs": np.abs,
}
_BINARY: dict[type[ast.operator], Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.divide,
}


@dataclass(frozen=True)
class VirtualFormula:
    """A virtual meter's formula over other meters, parsed once and checked; evaluated without ``eval``.

    Meters are named in braces by code, handle or id: ``{park-E-intake} - {park-E-pv} * 0.98``.
    Allowed: numbers, ``+ - * /``, unary minus, parentheses, ``max``, ``min``, ``abs``.
    """

    text: str
    refs: tuple[str, ...]
    tree: ast.Expression = field(repr=False)

    @classmethod
    def parse(cls, text: str) -> VirtualFormula:
        """Parse and check ``text``.

        Raises
        ------
        ValidationError
            Naming the first construct that is not allowed, or a formula without meters.
        """
        refs: list[str] = []

        def name(match: re.Match[str]) -> str:
            ref = match.group(1).strip()
            if ref not in refs:
                refs.append(ref)
            return f"_m{refs.index(ref)}"

        source = _REF.sub(name, text)
        if not refs:
            raise ValidationError("virtual meter formula", "at least one meter in braces, e.g. {park-E-main}", text)
        try:
            tree = ast.parse(source, mode="eval")
        except SyntaxError as exc:
            raise ValidationError("virtual meter formula", "an arithmetic expression over {meters}", text) from exc
        allowed_names = {f"_m{i}" for i in range(len(refs))}
        for node in ast.walk(tree):
            ok = (
                isinstance(
                    node,
                    ast.Expression | ast.BinOp | ast.UnaryOp | ast.USub | ast.UAdd | ast.Load | ast.Call,
                )
                or type(node) in _BINARY
            )
            if isinstance(node, ast.Constant):
                ok = isinstance(node.value, int | float) and not isinstance(node.value, bool)
            elif isinstance(node, ast.Name):
                ok = node.id in allowed_names or node.id in _ALLOWED_CALLS
            if isinstance(node, ast.Call):
                ok = isinstance(node.func, ast.Name) and node.func.id in _ALLOWED_CALLS and not node.keywords
            if not ok:
                raise ValidationError(
                    "virtual meter formula",
                    "numbers, {meters}, + - * /, parentheses, max, min, abs",
                    f"{type(node).__name__} in {text!r}",
                )
        return cls(text, tuple(refs), tree)

    def evaluate(self, values: Mapping[str, np.ndarray] | Sequence[np.ndarray]) -> np.ndarray:
        """The formula over per-period amounts of its meters (in the order of ``refs``, or by ref)."""
        arrays = [values[r] for r in self.refs] if isinstance(values, Mapping) else list(values)
        if len(arrays) != len(self.refs):
            raise ValidationError("virtual meter formula", f"{len(self.refs)} meter series", len(arrays))
        env = {f"_m{i}": np.asarray(a, dtype=float) for i, a in enumerate(arrays)}
        with np.errstate(divide="ignore", invalid="ignore"):
            result = np.asarray(_eval(self.tree.body, env), dtype=float)
        if not np.all(np.isfinite(result)):
            raise ValidationError(
                "virtual meter formula", "a finite result in every period (division by zero?)", self.text
            )
        return result


def _eval(node: ast.AST, env: Mapping[str, np.ndarray]) -> np.ndarray | float:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.Name):
        return env[node.id]
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand, env)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](np.asarray(_eval(node.left, env)), np.asarray(_eval(node.right, env)))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return _ALLOWED_CALLS[node.func.id](*(_eval(a, env) for a in node.args))
    raise ValidationError("virtual meter formula", "an allowed construct", type(node).__name__)


def level_labels(
    site_id: int | None,
    sites: Mapping[int, tuple[str, str, int | None]],
    device: str | None = None,
) -> dict[str, str]:
    """Site, workshop and device labels of a meter hanging at ``site_id``.

    Parameters
    ----------
    site_id
        The site (or building, or workshop) the meter hangs at; None when the registry does not say.
    sites
        Every site of the park: id → (label, kind, parent id), kinds as in the registry
        (``site``, ``building``, ``workshop``, ``public_facility``).
    device
        The label of the meter's device, if any.

    Returns
    -------
    dict
        ``{"site", "workshop", "device"}``: the outermost site of the parent chain, the nearest
        ``workshop`` on the chain (the meter's own site first), the device; :data:`UNPLACED` for
        a level the registry does not give.

    Raises
    ------
    ValidationError
        If ``site_id`` or a parent is not in ``sites``, or the parent links form a loop.
    """
    site = workshop = ""
    seen: set[int] = set()
    current = site_id
    while current is not None:
        if current in seen:
            raise ValidationError("site parents", "a tree of sites (no loop)", sorted(seen))
        if current not in sites:
            raise ValidationError("site", f"one of the park's site ids {sorted(sites)}", current)
        seen.add(current)
        label, kind, parent = sites[current]
        if kind == "workshop" and not workshop:
            workshop = label
        site = label
        current = parent
    return {"site": site or UNPLACED, "workshop": workshop or UNPLACED, "device": device or UNPLACED}


def share(part: float, whole: float) -> float:
    """``part / whole`` clipped to [0, 1]; 0 when ``whole`` is 0."""
    if whole == 0 or not math.isfinite(whole):
        return 0.0
    return min(max(part / whole, 0.0), 1.0)
