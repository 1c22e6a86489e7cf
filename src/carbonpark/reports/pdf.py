"""HTML to PDF with WeasyPrint, CJK text kept as text (extractable with ``pdftotext``).

Reusable by every capability: render the HTML (Jinja2), then :func:`html_to_pdf`. The page CSS
adds A4 pages, page numbers and a font stack that reaches the Noto CJK fonts (Debian package
``fonts-noto-cjk``); :func:`cjk_font_available` tells whether fontconfig sees one. Install
``libharfbuzz-subset0`` too: without it WeasyPrint subsets the large CJK fonts with fontTools, about
10 s per face instead of well under one.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from carbonpark.errors import CarbonparkError

__all__ = ["PAGE_CSS", "cjk_font_available", "html_to_pdf"]

#: Page set-up shared by the PDF reports.
PAGE_CSS = """
@page { size: A4; margin: 18mm 16mm 20mm 16mm;
        @bottom-center { content: counter(page) " / " counter(pages); font-size: 8pt; color: #666; } }
body, svg text { font-family: "Noto Sans CJK SC", "WenQuanYi Zen Hei", "DejaVu Sans", sans-serif !important; }
h1, h2, h3 { color: #1d5a40; }
"""


def cjk_font_available() -> bool:
    """Whether fontconfig knows a font covering Chinese (``fc-list :lang=zh``)."""
    if shutil.which("fc-list") is None:
        return False
    out = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, check=False).stdout
    return bool(out.strip())


def html_to_pdf(html: str, path: Path | str, *, base_url: str | None = None) -> Path:
    """Write ``html`` as a PDF at ``path`` and return the path.

    Raises
    ------
    CarbonparkError
        If the HTML has Chinese text and no CJK font is installed (the PDF would show boxes).
    """
    from weasyprint import CSS, HTML  # imported here: it loads Pango, slow to start

    if any("\u4e00" <= ch <= "\u9fff" for ch in html) and not cjk_font_available():
        raise CarbonparkError(
            "no CJK font for the Chinese PDF: install one (apt-get install -y fonts-noto-cjk) and try again"
        )
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    HTML(string=html, base_url=base_url).write_pdf(target, stylesheets=[CSS(string=PAGE_CSS)])
    return target
