"""Message catalogues of the dashboard: zh-CN (default) and English (SPEC C20).

Every label the pages show comes from ``web/i18n/<lang>.json`` through :func:`translate`;
templates never hold human text of their own. Both catalogues have the same keys (a test
checks it). A missing key shows as the key itself, so a gap is visible, never silent.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_LANG", "LANGS", "catalogue", "translate"]

LANGS: tuple[str, ...] = ("zh-CN", "en")
DEFAULT_LANG = "zh-CN"
_DIR = Path(__file__).with_name("i18n")


@cache
def catalogue(lang: str) -> dict[str, str]:
    """The messages of ``lang`` (one of :data:`LANGS`), key → text."""
    if lang not in LANGS:
        lang = DEFAULT_LANG
    data: dict[str, str] = json.loads((_DIR / f"{lang}.json").read_text(encoding="utf-8"))
    return data


def translate(lang: str, key: str, **params: Any) -> str:
    """The text of ``key`` in ``lang`` with ``{name}`` placeholders filled from ``params``."""
    text = catalogue(lang).get(key, key)
    return text.format(**params) if params else text
