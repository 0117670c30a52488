"""A self-contained HTML report: tables inline, figures embedded as base64 PNG."""

from __future__ import annotations

import base64
import html
from pathlib import Path

__all__ = ["HtmlReport"]

_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1100px; color: #1b1b1b; line-height: 1.45; padding: 0 1em; }
h1 { border-bottom: 2px solid #2471a3; padding-bottom: .3em; }
h2 { margin-top: 2em; border-bottom: 1px solid #ccc; padding-bottom: .2em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.86em; }
th, td { border: 1px solid #d5d5d5; padding: .3em .6em; text-align: right; }
th { background: #f2f5f8; }
td:first-child, th:first-child { text-align: left; }
figure { display: inline-block; margin: .5em; vertical-align: top; }
figure img { max-width: 520px; border: 1px solid #eee; }
figcaption { font-size: .85em; color: #555; max-width: 520px; }
.note { color: #555; font-size: .9em; }
nav a { margin-right: 1em; }
"""


class HtmlReport:
    """Collects sections of headings, text, tables and figures and renders one HTML file.

    Figures are embedded as base64 data URIs, so the file reads offline with nothing beside
    it; the figure files are written separately by the caller for reuse.
    """

    def __init__(self, title):
        self.title = title
        self._parts = []
        self._sections = []

    def section(self, title):
        anchor = f"s{len(self._sections) + 1}"
        self._sections.append((anchor, title))
        self._parts.append(f'<h2 id="{anchor}">{html.escape(title)}</h2>')

    def paragraph(self, text, *, note=False):
        css = ' class="note"' if note else ""
        self._parts.append(f"<p{css}>{html.escape(text)}</p>")

    def table(self, frame, *, caption=None, index=False, float_format="{:.3f}"):
        if caption:
            self._parts.append(f"<h3>{html.escape(caption)}</h3>")
        self._parts.append(frame.to_html(index=index, border=0, na_rep="",
                                         float_format=float_format.format, escape=True))

    def figure(self, png_path, *, caption):
        data = base64.b64encode(Path(png_path).read_bytes()).decode("ascii")
        self._parts.append(
            f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )

    def render(self):
        nav = " ".join(f'<a href="#{a}">{html.escape(t)}</a>' for a, t in self._sections)
        body = "\n".join(self._parts)
        return (
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(self.title)}</title><style>{_STYLE}</style></head>"
            f"<body><h1>{html.escape(self.title)}</h1><nav>{nav}</nav>\n{body}\n</body></html>\n"
        )
