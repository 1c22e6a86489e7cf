"""Industry codes per GB/T 4754-2017 《国民经济行业分类》.

A code is a section letter with or without its digits (``C``, ``C26``, ``C2614``) or the
digits alone (``26``, ``2614``); the division (first two digits) must lie in the range
of its section. The table is packaged in ``data/gbt4754-2017-sections.csv``.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

from carbonpark.errors import ValidationError

__all__ = ["Section", "normalise_industry_code", "sections"]

_CODE = re.compile(r"^(?P<section>[A-T])?(?P<digits>\d{2,4})?$")


@dataclass(frozen=True)
class Section:
    """A section (门类) of GB/T 4754-2017 and its division range."""

    letter: str
    division_from: int
    division_to: int
    name_zh: str
    name_en: str


@lru_cache(maxsize=1)
def sections() -> dict[str, Section]:
    """The 20 sections, by letter."""
    text = files("carbonpark.model").joinpath("data/gbt4754-2017-sections.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return {
        r["section"]: Section(
            r["section"], int(r["division_from"]), int(r["division_to"]), r["name_zh"], r["name_en"]
        )
        for r in rows
    }


def _section_of(division: int) -> Section | None:
    return next((s for s in sections().values() if s.division_from <= division <= s.division_to), None)


def normalise_industry_code(code: str, field: str = "industry_code") -> str:
    """Return the code as section letter plus digits (``2614`` → ``C2614``), or raise.

    Raises
    ------
    ValidationError
        If the form is wrong, the division does not exist or does not belong to the section given.
    """
    text = code.strip().upper()
    m = _CODE.match(text)
    if not text or not m or (m["digits"] is not None and len(m["digits"]) == 0):
        raise ValidationError(field, "a GB/T 4754-2017 code such as C26, C2614 or 2614", code)
    letter, digits = m["section"], m["digits"]
    if digits is None:
        return str(letter)
    section = _section_of(int(digits[:2]))
    if section is None:
        raise ValidationError(field, "a division 01–97 of GB/T 4754-2017", code)
    if letter is not None and letter != section.letter:
        raise ValidationError(
            field, f"division {digits[:2]} under section {section.letter} ({section.name_zh})", code
        )
    return section.letter + digits
