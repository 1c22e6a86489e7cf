"""The quality flag vocabulary: one place, one meaning for every bit of ``Reading.quality``.

Every stored reading carries a small integer ``quality`` (``readings.quality``,
SMALLINT). It is a bit set: ``0`` is a plain, unflagged measurement; each check that
finds something sets its bit, so a reading can be, say, both ``stuck`` and
``uncalibrated``. The names below are the vocabulary the API, the CLI, the reports and
the accounting use (``flag_names(12) == ["suspect_spike", "stuck"]``).

Three groups matter downstream (the guide §4.1 asks for data whose quality is known;
an emission record says how much of its activity rests on estimated or flagged data):

``ESTIMATE_MASK``
    The value was not measured as such: ``estimated`` (substituted), ``gap_filled``
    (interpolated into a gap), ``manual`` (typed in by a person).
``SUSPECT_MASK``
    The value was measured but a check doubts it: ``suspect_spike``, ``stuck``,
    ``negative_step``, ``timestamp_skew``, ``imbalance``, ``uncalibrated``, ``device_flag``
    (the instrument itself reported an abnormal state: an HJ 212 data flag other than N or S,
    an OPC UA status code that is not Good).
``INFO_MASK``
    Facts that do not lower confidence: ``rollover`` (a counter wrapped and the step was
    taken modulo its range), ``corrected`` (an explicit correction replaced an earlier value).

References
----------
The guide §4.1 (计量方法: data quality of energy metering, online checks of the values);
SPEC.md C4; ISO 14064-1:2018 §8.3 (data quality management).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntFlag

import numpy as np

from carbonpark.errors import ValidationError

__all__ = [
    "ESTIMATED_FLAGS",
    "ESTIMATE_MASK",
    "FLAGGED_MASK",
    "FLAG_LABELS",
    "INFO_MASK",
    "SUSPECT_MASK",
    "QualityFlag",
    "QualityShare",
    "flag_names",
    "parse_flags",
    "quality_share",
]


class QualityFlag(IntFlag):
    """Bits of ``Reading.quality`` (fits a signed 16-bit column: bits 0–14; 0–11 used)."""

    OK = 0
    ESTIMATED = 1 << 0
    GAP_FILLED = 1 << 1
    SUSPECT_SPIKE = 1 << 2
    STUCK = 1 << 3
    NEGATIVE_STEP = 1 << 4
    ROLLOVER = 1 << 5
    TIMESTAMP_SKEW = 1 << 6
    IMBALANCE = 1 << 7
    UNCALIBRATED = 1 << 8
    CORRECTED = 1 << 9
    MANUAL = 1 << 10
    DEVICE_FLAG = 1 << 11


ESTIMATE_MASK = int(QualityFlag.ESTIMATED | QualityFlag.GAP_FILLED | QualityFlag.MANUAL)
SUSPECT_MASK = int(
    QualityFlag.SUSPECT_SPIKE
    | QualityFlag.STUCK
    | QualityFlag.NEGATIVE_STEP
    | QualityFlag.TIMESTAMP_SKEW
    | QualityFlag.IMBALANCE
    | QualityFlag.UNCALIBRATED
    | QualityFlag.DEVICE_FLAG
)
INFO_MASK = int(QualityFlag.ROLLOVER | QualityFlag.CORRECTED)
#: Bits that make a reading count as "flagged" in an emission record (estimated or doubted).
FLAGGED_MASK = ESTIMATE_MASK | SUSPECT_MASK
_ALL = ESTIMATE_MASK | SUSPECT_MASK | INFO_MASK
#: Every code that carries an estimate bit, for code that matches codes rather than bits
#: (``numpy.isin(quality, list(ESTIMATED_FLAGS))`` equals ``quality & ESTIMATE_MASK != 0``).
ESTIMATED_FLAGS: frozenset[int] = frozenset(c for c in range(_ALL + 1) if c & ESTIMATE_MASK and not c & ~_ALL)

#: Human labels of each flag: name → (zh-CN, English).
FLAG_LABELS: dict[str, tuple[str, str]] = {
    "ok": ("正常", "ok"),
    "estimated": ("估算值", "estimated"),
    "gap_filled": ("缺测插补", "gap filled"),
    "suspect_spike": ("疑似尖峰", "suspect spike"),
    "stuck": ("数值冻结", "stuck value"),
    "negative_step": ("累计值倒退", "negative step of a cumulative meter"),
    "rollover": ("计数器翻转", "counter rollover"),
    "timestamp_skew": ("时间戳偏差", "timestamp skew"),
    "imbalance": ("总分表不平衡", "main/sub-meter imbalance"),
    "uncalibrated": ("超期未检定", "meter overdue for calibration"),
    "corrected": ("已更正", "corrected"),
    "manual": ("人工录入", "entered manually"),
    "device_flag": ("设备状态异常", "device reported an abnormal state"),
}


def flag_names(code: int) -> list[str]:
    """Names of the bits set in ``code`` (``["ok"]`` for 0), lowest bit first.

    Raises
    ------
    ValidationError
        If ``code`` has a bit outside the vocabulary.
    """
    code = int(code)
    if code < 0 or code & ~_ALL:
        raise ValidationError("quality", f"a bit set of the flags {sorted(FLAG_LABELS)}", code)
    if code == 0:
        return ["ok"]
    return [str(f.name).lower() for f in QualityFlag if f.value and code & f.value]


def parse_flags(names: str | Iterable[str]) -> int:
    """The code of flag names (``"stuck,uncalibrated"`` or a list; ``"ok"`` is 0)."""
    items = names.split(",") if isinstance(names, str) else list(names)
    code = 0
    for raw in items:
        name = raw.strip().lower()
        if not name or name == "ok":
            continue
        try:
            code |= int(QualityFlag[name.upper()])
        except KeyError:
            raise ValidationError("quality flag", f"one of {sorted(FLAG_LABELS)}", raw) from None
    return code


@dataclass(frozen=True)
class QualityShare:
    """How much of an amount rests on measured, estimated and flagged readings [same unit as the amount].

    ``estimated`` and ``suspect`` may overlap (a reading can be both); ``measured_ok`` is
    what carries neither.
    """

    total: float
    measured_ok: float
    estimated: float
    suspect: float

    @property
    def estimated_share(self) -> float:
        """Share of the total [0–1] from estimated, gap-filled or manual readings (0 for a zero total)."""
        return self.estimated / self.total if self.total else 0.0

    @property
    def suspect_share(self) -> float:
        """Share of the total [0–1] from readings a check doubts (0 for a zero total)."""
        return self.suspect / self.total if self.total else 0.0

    def to_dict(self) -> dict[str, float]:
        """Plain dict for JSON (amounts and shares)."""
        return {
            "total": self.total,
            "measured_ok": self.measured_ok,
            "estimated": self.estimated,
            "suspect": self.suspect,
            "estimated_share": self.estimated_share,
            "suspect_share": self.suspect_share,
        }


def quality_share(amounts: Sequence[float] | np.ndarray, codes: Sequence[int] | np.ndarray) -> QualityShare:
    """Split a total into what rests on clean, estimated and suspect readings.

    Parameters
    ----------
    amounts
        Amount contributed by each reading [any unit] (interval values, or register steps).
    codes
        ``Reading.quality`` of each reading.

    Returns
    -------
    QualityShare
        Sums by group, for an activity datum or an emission record built from these readings.
    """
    a = np.asarray(amounts, dtype=float)
    c = np.asarray(codes, dtype=np.int64)
    if a.shape != c.shape:
        raise ValidationError("quality_share", "as many quality codes as amounts", (a.size, c.size))
    est = (c & ESTIMATE_MASK) != 0
    sus = (c & SUSPECT_MASK) != 0
    return QualityShare(
        total=float(a.sum()),
        measured_ok=float(a[~est & ~sus].sum()),
        estimated=float(a[est].sum()),
        suspect=float(a[sus].sum()),
    )
