"""Alarm rules of live monitoring: threshold, rate of change, intensity per output, data silence.

Each rule is a pure function of the figures it needs; it returns a :class:`Breach` (what was
seen, against which limit, in words) or None. The monitoring service feeds them from the store
and keeps the alarm lifecycle (raised → acknowledged → cleared).

References
----------
Guide §4.1 (能源计量与监测: 实时监测, 异常报警), §6.4 (监测跟踪); SPEC C5; issue 5 item 7.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from carbonpark.errors import ValidationError

__all__ = [
    "RULE_KINDS",
    "Breach",
    "check_intensity",
    "check_rate_of_change",
    "check_silence",
    "check_threshold",
    "validate_params",
]

#: Rule kinds and the parameters each takes (all numbers; at least one of low/high for a threshold).
RULE_KINDS: dict[str, tuple[str, ...]] = {
    "threshold": ("low", "high"),
    "rate_of_change": ("max_per_hour",),
    "intensity": ("max_per_output",),
    "silence": ("minutes",),
}


@dataclass(frozen=True)
class Breach:
    """A rule broken: the value seen, the limit, and a sentence for people."""

    value: float | None  # None when there is nothing to measure (no reading ever)
    limit: float
    message: str

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON and the alarm's detail."""
        return {"value": self.value, "limit": self.limit, "message": self.message}


def validate_params(kind: str, params: dict[str, Any]) -> dict[str, float]:
    """The rule's parameters as numbers; a :class:`ValidationError` names what is wrong."""
    if kind not in RULE_KINDS:
        raise ValidationError("kind", f"one of {', '.join(RULE_KINDS)}", kind)
    allowed = RULE_KINDS[kind]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValidationError("params", f"parameters of a {kind} rule: {', '.join(allowed)}", unknown)
    out: dict[str, float] = {}
    for name, value in params.items():
        try:
            number = float(value)
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"params.{name}", "a number", value) from exc
        if not math.isfinite(number):
            raise ValidationError(f"params.{name}", "a finite number", value)
        out[name] = number
    if kind == "threshold":
        if not out:
            raise ValidationError("params", "low and/or high for a threshold rule", params)
        if "low" in out and "high" in out and out["low"] >= out["high"]:
            raise ValidationError("params.low", f"a number below high ({out['high']})", out["low"])
    elif set(out) != set(allowed):
        raise ValidationError("params", f"{', '.join(allowed)} for a {kind} rule", params)
    elif out[allowed[0]] <= 0:
        raise ValidationError(f"params.{allowed[0]}", "a number > 0", out[allowed[0]])
    return out


def check_threshold(value: float, low: float | None = None, high: float | None = None, unit: str = "") -> Breach | None:
    """Breach when ``value`` is above ``high`` or below ``low`` [the meter's unit]."""
    if high is not None and value > high:
        return Breach(value, high, f"{value:g} {unit} above the limit {high:g} {unit}".replace("  ", " "))
    if low is not None and value < low:
        return Breach(value, low, f"{value:g} {unit} below the limit {low:g} {unit}".replace("  ", " "))
    return None


def check_rate_of_change(
    previous: tuple[int, float], latest: tuple[int, float], max_per_hour: float, unit: str = ""
) -> Breach | None:
    """Breach when ``|Δvalue| / Δt`` exceeds ``max_per_hour`` [unit/h]; points are ``(ts_ms, value)``."""
    dt_h = (latest[0] - previous[0]) / 3_600_000
    if dt_h <= 0:
        return None
    rate = abs(latest[1] - previous[1]) / dt_h
    if rate > max_per_hour:
        return Breach(rate, max_per_hour, f"changes by {rate:g} {unit}/h, more than {max_per_hour:g} {unit}/h")
    return None


def check_intensity(amount: float, output: float, max_per_output: float, unit: str = "") -> Breach | None:
    """Breach when ``amount / output`` exceeds ``max_per_output`` [unit per unit of output].

    No output in the period (zero or negative) cannot be judged and raises nothing.
    """
    if output <= 0:
        return None
    intensity = amount / output
    if intensity > max_per_output:
        return Breach(intensity, max_per_output, f"{intensity:g} {unit} per unit of output, above {max_per_output:g}")
    return None


def check_silence(last_ts_ms: int | None, now_ms: int, minutes: float) -> Breach | None:
    """Breach when no reading came for more than ``minutes`` [min] (or none ever came)."""
    if last_ts_ms is None:
        return Breach(None, minutes, "no reading has ever arrived")
    silent = (now_ms - last_ts_ms) / 60_000
    if silent > minutes:
        return Breach(silent, minutes, f"silent for {silent:,.0f} min, longer than {minutes:g} min")
    return None
