"""Tables of live monitoring: alarm rules (the alarms themselves are ``alarms`` of the ingest branch).

A rule watches one meter (threshold, rate of change, silence) or one meter against an output
statistic (intensity); ``notify`` holds the hooks called when it raises an alarm (a webhook URL,
e-mail addresses). Migration: ``migrations/versions/monitoring_0001.py`` (branch ``monitoring``).

References
----------
Guide §4.1, §6.4; issue 5 item 7.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from carbonpark.store.schema import Base

__all__ = ["AlarmRule"]


class AlarmRule(Base):
    __tablename__ = "alarm_rules"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"), index=True)
    output_metric: Mapped[str | None] = mapped_column(String(100))  # statistic metric of an intensity rule
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    severity: Mapped[str] = mapped_column(String(16), default="warning")
    notify: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_ms: Mapped[int] = mapped_column(BigInteger)
