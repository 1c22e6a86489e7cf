"""Chinese calendar features: public holidays and adjusted working days (调休).

China moves weekend days around public holidays: a Saturday or Sunday near a holiday
becomes a working day (补班) so that the holiday block is longer. Park load follows the
working calendar, not the weekday, so a short-term model needs both flags.

The ``holidays`` package (>= 0.60, installed as a dependency) knows both: public holidays
and substituted days off are its entries, and the make-up working days are in its
``weekend_workdays`` set. It takes them from the State Council's yearly notices
(国务院办公厅关于部分节假日安排的通知, published on www.gov.cn); years the State
Council has not yet announced carry only the statutory holidays.

References
----------
Guide §4.4(2): short-term forecasts use calendar information (日历信息).
"""

from __future__ import annotations

from functools import lru_cache

import holidays
import numpy as np
import pandas as pd

__all__ = ["calendar_features", "china_calendar", "working_days_in_month"]


@lru_cache(maxsize=64)
def china_calendar(year: int) -> tuple[frozenset[pd.Timestamp], frozenset[pd.Timestamp]]:
    """Public holidays (with substituted days off) and make-up working days of one year.

    Returns
    -------
    (holidays, makeup_workdays)
        Sets of midnight timestamps.
    """
    cn = holidays.country_holidays("CN", years=[year])
    days_off = frozenset(pd.Timestamp(d) for d in cn)
    workdays = frozenset(pd.Timestamp(d) for d in getattr(cn, "weekend_workdays", ()) if d.year == year)
    return days_off, workdays


def _flags(days: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    is_holiday = np.zeros(len(days), dtype=bool)
    is_makeup = np.zeros(len(days), dtype=bool)
    for year in np.unique(days.year):
        off, work = china_calendar(int(year))
        in_year = days.year == year
        is_holiday[in_year] = days[in_year].isin(list(off))
        is_makeup[in_year] = days[in_year].isin(list(work))
    return is_holiday, is_makeup


def calendar_features(ts: pd.DatetimeIndex) -> pd.DataFrame:
    """Calendar features of park-local timestamps.

    Columns: ``time_of_day`` [h, 0–24), ``day_of_week`` (Monday 0), ``month`` (1–12),
    ``is_holiday`` (public holiday or substituted day off), ``is_makeup_workday``
    (a Saturday or Sunday worked in exchange, 调休补班), ``is_working_day``
    (Monday–Friday not a holiday, or a make-up working day).
    """
    ts = pd.DatetimeIndex(ts)
    days = ts.normalize()
    is_holiday, is_makeup = _flags(days)
    weekday = days.dayofweek.to_numpy()
    working = ((weekday < 5) & ~is_holiday) | is_makeup
    return pd.DataFrame(
        {
            "time_of_day": ts.hour.to_numpy() + ts.minute.to_numpy() / 60.0,
            "day_of_week": weekday,
            "month": ts.month.to_numpy(),
            "is_holiday": is_holiday.astype(float),
            "is_makeup_workday": is_makeup.astype(float),
            "is_working_day": working.astype(float),
        }
    )


def working_days_in_month(month_starts: pd.DatetimeIndex) -> np.ndarray:
    """Number of working days in each month [d], counting make-up days and not holidays."""
    counts = []
    for start in pd.DatetimeIndex(month_starts):
        days = pd.date_range(start, start + pd.offsets.MonthEnd(0), freq="D")
        counts.append(float(calendar_features(days)["is_working_day"].sum()))
    return np.asarray(counts)
