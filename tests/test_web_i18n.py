"""The dashboard's message catalogues (issue 14 item 2: "an English switch that covers every label").

No browser: the catalogues are compared key for key, and every message key the templates, the page
builders and the PDF downloads name is looked up in both. Keys built at run time from a page key
(``nav.<page>``, ``lede.<page>``, ``role.<role>``), an upload count (``upload.<count>``), a chart series
(``series(ctx, "<name>")`` → ``series.<name>``) or a metered quantity (``quantity.<q>``) are checked for every
page of :data:`carbonpark.web.pages.PAGES`, every count of :data:`carbonpark.web.uploads.READING_COUNTS` and
every quantity of :data:`carbonpark.web.pages.QUANTITIES`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from carbonpark.web import pages, uploads
from carbonpark.web.i18n import LANGS, catalogue, translate

WEB = Path(pages.__file__).parent
PREFIXES = "col|table|chart|kpi|note|field|action|nav|lede|error|login|upload|lang|app|role|series|quantity"
#: A message key written as a string literal in Python or in a template call ``t('…')``.
KEY_IN_PY = re.compile(rf"""["']((?:{PREFIXES})\.[a-z_0-9]+)["']""")
KEY_IN_TEMPLATE = re.compile(r"""t\(\s*["']([a-z_]+\.[a-z_0-9]+)["']""")
#: A chart series named in a page builder: ``series(ctx, "path")`` is the message ``series.path``.
SERIES_IN_PY = re.compile(r"""series\(ctx, ["']([a-z_0-9]+)["']\)""")
#: Dotted names in Python that are not message keys (file names, template names).
NOT_KEYS = {"error.html", "login.html", "upload.html", "upload.csv"}


def _raw(lang: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((WEB / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))
    return data


def test_catalogues_have_the_same_keys_and_no_empty_text() -> None:
    zh, en = _raw("zh-CN"), _raw("en")
    assert set(zh) == set(en), sorted(set(zh) ^ set(en))
    assert not [k for k, v in {**zh, **en}.items() if not v.strip()]
    # the two really are two languages: a label in Chinese differs from its English text
    assert zh["nav.overview"] == "园区总览" and en["nav.overview"] == "Park overview"


def _keys_used() -> set[str]:
    used: set[str] = set()
    for path in WEB.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        used |= set(KEY_IN_PY.findall(text)) | {f"series.{name}" for name in SERIES_IN_PY.findall(text)}
    for path in (WEB / "templates").glob("*.html"):
        used |= set(KEY_IN_TEMPLATE.findall(path.read_text(encoding="utf-8")))
    return used - NOT_KEYS


def _dynamic_keys() -> set[str]:
    keys = {f"nav.{k}" for k in pages.PAGES} | {f"lede.{k}" for k in pages.PAGES}
    keys |= {f"lang.{lang}" for lang in LANGS} | {f"role.{role}" for role in pages.ALL}
    keys |= {f"upload.{count}" for count in uploads.READING_COUNTS}
    keys |= {f"quantity.{q}" for q in pages.QUANTITIES}
    return keys


@pytest.mark.parametrize("lang", LANGS)
def test_every_key_the_dashboard_names_exists(lang: str) -> None:
    used = _keys_used() | _dynamic_keys()
    assert len(used) > 150  # the scan found the keys (the pages name a few hundred)
    missing = sorted(k for k in used if k not in catalogue(lang))
    assert not missing, missing


def test_translate_fills_placeholders_and_shows_unknown_keys() -> None:
    # a missing key shows as itself (visible gap), a known one in the chosen language
    assert translate("en", "no.such_key") == "no.such_key"
    assert translate("en", "nav.retrofit") != translate("zh-CN", "nav.retrofit")
