"""The attested form of an ingest batch of meter readings, computed from columns in memory.

Each committed ingest batch is attested by ONE ledger entry (kind ``ingest_batch``, record
``ingest_batch:<id>``) whose payload this module builds from the batch's columns (numpy
arrays: meter id, timestamp, value, quality) without reading anything back from the store:

- ``sha256``: SHA-256 over the batch's **canonical rows** in (meter id, ts) order, each
  packed as :data:`ROW_LAYOUT`, 22 bytes big-endian: ``meter_id`` int32, ``ts_ms`` int64
  (UTC epoch milliseconds), ``value`` float64 (IEEE 754, the meter's canonical unit;
  ``-0.0`` is written as ``+0.0``), ``quality`` int16 (the attested quality bits). This
  is the seal: any change of any row changes it.
- ``meters``: per meter, its handle and id, its timestamps as runs ``[first, step, count]``
  (exact: a deleted or inserted row is located by its ts) and ``fp``, a 32-bit
  *locator* per row (base64 of big-endian uint32, :func:`fingerprints`): a changed value
  or quality is located at its (meter, ts). The locator is not a cryptographic hash; the
  ``sha256`` seal is what makes a change detectable, the locators only say where.
- ``count``, ``first_ts_ms``, ``last_ts_ms``, ``batch`` (the ``ingest_batches`` id) and
  ``channel``.

``ledger verify`` rebuilds the same payload from the stored rows of the batch (the batch id
is stored with each reading) and :func:`diff_batches` names every row that differs.

References
----------
RFC 6962 §2.1 (what the log commits to); FIPS 180-4 (SHA-256); IEEE 754-2019 (binary64);
RFC 4648 §4 (base64). The locator's mixing constants are those of the SplitMix64 output
function (G. L. Steele, D. Lea, C. H. Flood, "Fast splittable pseudorandom number
generators", OOPSLA 2014). docs/ledger.md §0, docs/ingest.md §8.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from carbonpark.errors import ValidationError

__all__ = [
    "ROW_LAYOUT",
    "RowChange",
    "batch_payload",
    "canonical_rows",
    "diff_batches",
    "expand_runs",
    "fingerprints",
    "meter_rows",
    "ts_runs",
]

ROW_LAYOUT = np.dtype([("meter_id", ">i4"), ("ts_ms", ">i8"), ("value", ">f8"), ("quality", ">i2")])
"""One canonical row of an ingest batch: 22 bytes, big-endian (meter id, ts, value, quality)."""

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _order(meter_id: np.ndarray, ts_ms: np.ndarray) -> np.ndarray:
    """Positions that sort the rows by (meter id, ts)."""
    return np.lexsort((ts_ms, meter_id))


def canonical_rows(meter_id: np.ndarray, ts_ms: np.ndarray, value: np.ndarray, quality: np.ndarray) -> bytes:
    """The rows packed as :data:`ROW_LAYOUT`, in the order given (sort them by (meter, ts) first)."""
    packed = np.empty(len(meter_id), dtype=ROW_LAYOUT)
    packed["meter_id"] = meter_id
    packed["ts_ms"] = ts_ms
    packed["value"] = np.asarray(value, dtype=np.float64) + 0.0  # -0.0 + 0.0 = +0.0 (IEEE 754 §6.3)
    packed["quality"] = quality
    return packed.tobytes()


def fingerprints(value: np.ndarray, quality: np.ndarray) -> np.ndarray:
    """The 32-bit row locator of each (value, quality): where a changed row is, not a seal.

    ``x = bits(value) XOR (quality · 0x9E3779B97F4A7C15)`` (mod 2^64; ``bits`` is the IEEE 754
    binary64 pattern of the value as an unsigned integer, ``-0.0`` taken as ``+0.0``), then the
    SplitMix64 output function ``x ^= x >> 30; x *= 0xBF58476D1CE4E5B9; x ^= x >> 27;
    x *= 0x94D049BB133111EB; x ^= x >> 31`` (products mod 2^64); the locator is the high 32
    bits of ``x``.

    Returns
    -------
    numpy.ndarray
        ``uint32``, one per row.
    """
    v = np.ascontiguousarray(np.asarray(value, dtype=np.float64) + 0.0)
    x = v.view(np.uint64) ^ (np.asarray(quality).astype(np.int64).astype(np.uint64) * _GOLDEN)
    x ^= x >> np.uint64(30)
    x *= _MIX1
    x ^= x >> np.uint64(27)
    x *= _MIX2
    x ^= x >> np.uint64(31)
    return (x >> np.uint64(32)).astype(np.uint32)


def ts_runs(ts_ms: np.ndarray) -> list[list[int]]:
    """Sorted timestamps as runs ``[first, step, count]`` of equal steps, taken greedily from the left.

    ``[t, 0, 1]`` is a single timestamp; ``[t, s, n]`` stands for ``t, t + s, …, t + (n − 1)·s``.
    A meter read every 15 minutes gives one run however many readings the batch holds.
    """
    t = np.asarray(ts_ms, dtype=np.int64)
    n = len(t)
    if n == 0:
        return []
    if n == 1:
        return [[int(t[0]), 0, 1]]
    d = np.diff(t)
    change = np.flatnonzero(d[1:] != d[:-1]) + 1  # where a stretch of equal steps d[k] begins
    if len(change) == 0:
        return [[int(t[0]), int(d[0]), n]]
    # stretch_end[s]: one past the last step index of stretch s; the stretch of step k is searchsorted
    stretch_end = np.r_[change, len(d)]
    out: list[list[int]] = []
    i = 0
    while i < n:
        if i == n - 1:
            out.append([int(t[i]), 0, 1])
            break
        j = int(stretch_end[np.searchsorted(stretch_end, i, side="right")])  # d[i:j] equal: elements i … j
        out.append([int(t[i]), int(d[i]), j - i + 1])
        i = j + 1
    return out


def expand_runs(runs: Any) -> np.ndarray:
    """The timestamps ``runs`` stands for (the inverse of :func:`ts_runs`).

    Raises
    ------
    ValidationError
        If ``runs`` is not a list of ``[first, step, count]`` integer triples with count ≥ 1.
    """
    if not isinstance(runs, list):
        raise ValidationError("ts", "a list of [first, step, count] runs", runs)
    parts = []
    for run in runs:
        if (
            not isinstance(run, list)
            or len(run) != 3
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in run)
            or run[2] < 1
        ):
            raise ValidationError("ts", "[first, step, count] integers with count ≥ 1", run)
        first, step, count = run
        parts.append(first + step * np.arange(count, dtype=np.int64))
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


def batch_payload(
    batch_id: int,
    channel: str,
    meter_id: np.ndarray,
    ts_ms: np.ndarray,
    value: np.ndarray,
    quality: np.ndarray,
    handle_of: Callable[[int], str],
) -> dict[str, Any]:
    """The payload attesting an ingest batch (see the module text), from its columns.

    Parameters
    ----------
    batch_id
        The batch's id (``ingest_batches.id``).
    channel
        The connector it came through (``mqtt``, ``file``, ``rest`` …).
    meter_id, ts_ms, value, quality
        Equal-length columns of the rows the batch stored or corrected: meter ids, UTC epoch
        ms, values [canonical unit], attested quality bits; any order ((meter, ts) pairs unique).
    handle_of
        Meter id → its handle (the name people and proofs use).

    Returns
    -------
    dict
        JSON values only (ready for RFC 8785).
    """
    n = len(meter_id)
    if not (len(ts_ms) == len(value) == len(quality) == n):
        raise ValidationError("columns", "equal-length meter, ts, value and quality columns", n)
    order = _order(np.asarray(meter_id), np.asarray(ts_ms))
    m = np.asarray(meter_id, dtype=np.int64)[order]
    t = np.asarray(ts_ms, dtype=np.int64)[order]
    v = np.asarray(value, dtype=np.float64)[order]
    q = np.asarray(quality, dtype=np.int64)[order]
    fp = fingerprints(v, q).astype(">u4")
    meters: list[dict[str, Any]] = []
    if n:
        ids, starts = np.unique(m, return_index=True)
        for k, (mid, lo) in enumerate(zip(ids.tolist(), starts.tolist(), strict=True)):
            hi = int(starts[k + 1]) if k + 1 < len(starts) else n
            meters.append(
                {
                    "meter": handle_of(int(mid)),
                    "meter_id": int(mid),
                    "ts": ts_runs(t[lo:hi]),
                    "fp": base64.b64encode(fp[lo:hi].tobytes()).decode("ascii"),
                }
            )
    return {
        "batch": int(batch_id),
        "channel": channel,
        "count": n,
        "first_ts_ms": int(t.min()) if n else None,
        "last_ts_ms": int(t.max()) if n else None,
        "sha256": hashlib.sha256(canonical_rows(m, t, v, q)).hexdigest(),
        "meters": meters,
    }


def meter_rows(payload: Mapping[str, Any]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Meter handle → (timestamps, locators) of a batch payload (attested or rebuilt).

    Raises
    ------
    ValidationError
        If the payload does not have the form :func:`batch_payload` writes.
    """
    meters = payload.get("meters")
    if not isinstance(meters, list):
        raise ValidationError("payload.meters", "a list of meters", meters)
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for item in meters:
        if not isinstance(item, Mapping) or not isinstance(item.get("fp"), str):
            raise ValidationError("payload.meters[]", "{meter, meter_id, ts, fp}", item)
        ts = expand_runs(item.get("ts"))
        try:
            raw = base64.b64decode(item["fp"], validate=True)
        except ValueError as exc:
            raise ValidationError("payload.meters[].fp", "base64 text", item["fp"][:40]) from exc
        fp = np.frombuffer(raw, dtype=">u4")
        if len(fp) != len(ts):
            raise ValidationError("payload.meters[].fp", f"{len(ts)} locators, one per timestamp", len(fp))
        out[str(item.get("meter"))] = (ts, fp)
    return out


@dataclass(frozen=True)
class RowChange:
    """One row of a batch that differs between what was attested and what is stored.

    ``change`` is ``changed`` (same (meter, ts), another value or quality), ``deleted``
    (attested, no longer stored) or ``inserted`` (stored, never attested in this batch).
    """

    meter: str
    ts_ms: int
    change: str


def diff_batches(attested: Mapping[str, Any] | None, stored: Mapping[str, Any] | None) -> list[RowChange]:
    """The rows that differ between an attested batch payload and the one rebuilt from the store.

    Parameters
    ----------
    attested
        The payload of the batch's ledger entry; None when the batch was never attested.
    stored
        The payload rebuilt from the stored rows; None when no row of the batch is stored.

    Returns
    -------
    list of RowChange
        In (meter, ts) order. Empty when the rows agree row by row; if the ``sha256`` seals
        still differ then, the change is one the 32-bit locators do not show (the caller
        reports the batch as changed without a row).
    """
    want = meter_rows(attested) if attested is not None else {}
    got = meter_rows(stored) if stored is not None else {}
    out: list[RowChange] = []
    for meter in sorted(set(want) | set(got)):
        wt, wf = want.get(meter, (np.empty(0, np.int64), np.empty(0, np.uint32)))
        gt, gf = got.get(meter, (np.empty(0, np.int64), np.empty(0, np.uint32)))
        gone = np.setdiff1d(wt, gt)
        new = np.setdiff1d(gt, wt)
        both, wi, gi = np.intersect1d(wt, gt, assume_unique=False, return_indices=True)
        changed = both[wf[wi] != gf[gi]]
        rows = [(int(ts), "deleted") for ts in gone.tolist()]
        rows += [(int(ts), "inserted") for ts in new.tolist()]
        rows += [(int(ts), "changed") for ts in changed.tolist()]
        # a timestamp stored twice in one batch (a row moved into it with SQL) is an insertion too
        if len(gt) != len(np.unique(gt)):
            values, counts = np.unique(gt, return_counts=True)
            rows += [(int(ts), "inserted") for ts in values[counts > 1].tolist()]
        out.extend(RowChange(meter, ts, change) for ts, change in sorted(rows))
    return out
