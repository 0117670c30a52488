"""A self-contained HTML report: tables inline, figures embedded as base64 PNG."""

from __future__ import annotations

import base64
import html
from pathlib import Path

__all__ = ["HtmlReport"]

_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1300px; color: #1b1b1b; line-height: 1.45; padding: 0 1em; }
h1 { border-bottom: 2px solid #2471a3; padding-bottom: .3em; }
h2 { margin-top: 2em; border-bottom: 1px solid #ccc; padding-bottom: .2em; }
h3 { font-size: 1em; margin-bottom: .2em; }
.table-wrap { max-width: 100%; overflow-x: auto; }
table { border-collapse: collapse; margin: .6em 0 1.2em; font-size: 0.8em; }
th, td { border: 1px solid #d5d5d5; padding: .25em .5em; text-align: right;
         white-space: nowrap; }
th { background: #f2f5f8; white-space: normal; vertical-align: bottom; }
td:first-child, th:first-child { text-align: left; }
table.text td { white-space: normal; text-align: left; max-width: 34em; }
figure { display: inline-block; margin: .5em; vertical-align: top; }
figure img { max-width: 600px; border: 1px solid #eee; }
figure.wide img { max-width: 100%; }
figcaption { font-size: .85em; color: #555; max-width: 600px; }
.note { color: #555; font-size: .9em; }
.flag { background: #fff4e5; border-left: 4px solid #e67e22; padding: .4em .8em; }
nav a { margin-right: 1em; white-space: nowrap; }
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
        """Start a section (a heading in the page and an entry of the navigation bar)."""
        anchor = f"s{len(self._sections) + 1}"
        self._sections.append((anchor, title))
        self._parts.append(f'<h2 id="{anchor}">{html.escape(title)}</h2>')

    def paragraph(self, text, *, note=False, flag=False):
        """A paragraph; ``note`` in grey, ``flag`` highlighted as a caveat."""
        css = ' class="note"' if note else ' class="flag"' if flag else ""
        self._parts.append(f"<p{css}>{html.escape(text)}</p>")

    def bullets(self, items):
        """A bulleted list of text items."""
        if items:
            self._parts.append("<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items)
                               + "</ul>")

    def table(self, frame, *, caption=None, index=False, float_format="{:.3f}", text=False):
        """A table; ``text`` lets long cells wrap (notes, statements, documentation)."""
        if caption:
            self._parts.append(f"<h3>{html.escape(caption)}</h3>")
        classes = "text" if text else None
        rendered = frame.to_html(index=index, border=0, na_rep="", classes=classes,
                                 float_format=float_format.format, escape=True)
        self._parts.append(f'<div class="table-wrap">{rendered}</div>')

    def figure(self, png_path, *, caption, legends=(), wide=False):
        """An embedded PNG with its caption; ``wide`` figures may take the page's width. The
        alternative text is the caption and the legend entries, for screen readers (and so
        that a legend's numbers can be checked against the tables)."""
        data = base64.b64encode(Path(png_path).read_bytes()).decode("ascii")
        css = ' class="wide"' if wide else ""
        alt = "; ".join([caption, *legends])
        self._parts.append(
            f'<figure{css}><img alt="{html.escape(alt)}" '
            f'src="data:image/png;base64,{data}"><figcaption>{html.escape(caption)}'
            "</figcaption></figure>"
        )

    def render(self):
        """The whole page as one HTML string."""
        nav = " ".join(f'<a href="#{a}">{html.escape(t)}</a>' for a, t in self._sections)
        body = "\n".join(self._parts)
        return (
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(self.title)}</title><style>{_STYLE}</style></head>"
            f"<body><h1>{html.escape(self.title)}</h1><nav>{nav}</nav>\n{body}\n</body></html>\n"
        )
