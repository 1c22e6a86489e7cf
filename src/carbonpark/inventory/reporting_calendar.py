"""The reporting calendar: deadlines of a reporting year and reminders.

For reporting year *Y*: the annual emission report is due by 31 March of *Y+1*, provinces finish
verification by 30 June of *Y+1*, the evaluation of verification bodies is published by 31 July.

References
----------
The guide §7.3 (1) (每年3月31日前报省级生态环境主管部门); MEE notice of February 2023 on the yearly
cycle (REFERENCE_DATA §5a: report by 31 March, verification by 30 June, evaluation by 31 July).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

__all__ = ["DEADLINES", "Reminder", "deadlines", "reminders"]

#: (key, month, day, Chinese label, English label) of the year after the reporting year.
DEADLINES: tuple[tuple[str, int, int, str, str], ...] = (
    ("report", 3, 31, "年度排放报告报送", "annual emission report submitted"),
    ("verification", 6, 30, "核查完成", "verification completed"),
    ("verifier_evaluation", 7, 31, "技术服务机构评估公布", "evaluation of verification bodies published"),
)


@dataclass(frozen=True, slots=True)
class Reminder:
    """One deadline as seen on ``today``: ``status`` is done, overdue, due_soon or upcoming."""

    key: str
    label_zh: str
    label_en: str
    due: date
    days_left: int
    status: str

    def to_dict(self) -> dict[str, object]:
        """Plain data (the dashboard's reminder card)."""
        return {
            "key": self.key,
            "label_zh": self.label_zh,
            "label_en": self.label_en,
            "due": self.due.isoformat(),
            "days_left": self.days_left,
            "status": self.status,
        }


def deadlines(year: int) -> dict[str, date]:
    """The deadlines of reporting year ``year``.

    Examples
    --------
    >>> deadlines(2024)["report"], deadlines(2024)["verification"]
    (datetime.date(2025, 3, 31), datetime.date(2025, 6, 30))
    """
    return {key: date(year + 1, month, day) for key, month, day, _zh, _en in DEADLINES}


def reminders(year: int, today: date, done: Mapping[str, bool] | None = None, soon_days: int = 30) -> list[Reminder]:
    """Reminders of reporting year ``year`` on ``today``; ``done`` marks deadlines already met."""
    done = done or {}
    out = []
    for key, month, day, zh, en in DEADLINES:
        due = date(year + 1, month, day)
        left = (due - today).days
        if done.get(key):
            status = "done"
        elif left < 0:
            status = "overdue"
        elif left <= soon_days:
            status = "due_soon"
        else:
            status = "upcoming"
        out.append(Reminder(key, zh, en, due, left, status))
    return out
