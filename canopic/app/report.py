"""A single-file HTML report: sections of text, tables, links and PNG figures embedded as base64.

Figures are embedded (``data:`` URLs), so the page stands alone; links (:meth:`Section.links`)
are written as given and should be relative to the page, so a moved folder keeps them working.

>>> from canopic.app.report import Report
>>> report = Report("CAnOPIC demo")
>>> section = report.section("Privacy", "Strongest attack accuracy.")
>>> section.table(["config", "top-1 (%)"], [["blur", "62.0"]])
>>> html = report.render()
>>> "<table>" in html and "<th scope='col'>top-1 (%)</th>" in html and "CAnOPIC demo" in html
True
"""
from __future__ import annotations

import base64
import dataclasses
import html
import re
from pathlib import Path
from typing import Sequence
from urllib.parse import quote

from canopic.core import files

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1240px; padding: 0 1em;
       color: #222; line-height: 1.4; }
h1 { border-bottom: 2px solid #444; } h2 { margin-top: 2em; border-bottom: 1px solid #bbb; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.92em; }
caption { caption-side: top; text-align: left; color: #555; padding-bottom: 0.3em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.wide { font-size: 0.8em; } table.wide th, table.wide td { padding: 0.25em 0.35em; }
.scroll { overflow-x: auto; max-width: 100%; }
thead th { background: #f0f0f0; } tbody th { font-weight: normal; background: #fafafa; }
figure { display: block; margin: 1em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: 0.9em; color: #444; max-width: 1100px; }
.claim { font-size: 1.1em; font-weight: 600; border-left: 4px solid #c33; padding-left: 0.6em; }
.note { color: #555; font-size: 0.9em; }
"""
_NUMBER = re.compile(r"^[-+−]?\d[\d.,]*( ?± ?\d[\d.,]*)?( ?%)?$")


@dataclasses.dataclass
class Figure:
    path: Path
    caption: str


@dataclasses.dataclass
class Table:
    header: list
    rows: list
    caption: str = ""


@dataclasses.dataclass
class Section:
    heading: str
    text: str = ""
    parts: list = dataclasses.field(default_factory=list)

    def figure(self, path: "str | Path", caption: str) -> None:
        """Embed the PNG at ``path`` (must exist when the report is rendered)."""
        self.parts.append(Figure(Path(path), caption))

    def table(self, header: Sequence[str], rows: Sequence[Sequence], caption: str = "") -> None:
        """A table, one column per header entry; each row has exactly that many cells (strings;
        numbers are formatted by the caller). The first cell of a row is its row header."""
        rows = [list(map(str, row)) for row in rows]
        for row in rows:
            if len(row) != len(header):
                raise ValueError(f"table rows: a row has {len(row)} cells, the header "
                                 f"{len(header)} ({row!r})")
        self.parts.append(Table(list(map(str, header)), rows, caption))

    def paragraph(self, text: str) -> None:
        self.parts.append(("p", text))

    def claim(self, text: str) -> None:
        """A highlighted one-sentence finding."""
        self.parts.append(("claim", text))

    def links(self, items: "Sequence[tuple[str, str]]", text: str = "") -> None:
        """A list of ``(href, label)`` links (hrefs relative to the page)."""
        self.parts.append(("links", text, list(items)))


def _text(value: str) -> str:
    """``value`` as HTML text (``<``, ``>``, ``&`` escaped; quotes kept as typed)."""
    return html.escape(value, quote=False)


def _table_html(table: Table) -> str:
    wide = len(table.header) > 10               # many columns: smaller type, scrolls if need be
    out = ["<div class='scroll'><table class='wide'>" if wide else "<table>"]
    if table.caption:
        out.append(f"<caption>{_text(table.caption)}</caption>")
    out.append("<thead><tr>" + "".join(f"<th scope='col'>{_text(h)}</th>"
                                       for h in table.header) + "</tr></thead><tbody>")
    for row in table.rows:
        cells = [f"<th scope='row'>{_text(row[0])}</th>"] + [
            f"<td class='num'>{_text(c)}</td>" if _NUMBER.match(c.strip())
            else f"<td>{_text(c)}</td>" for c in row[1:]]
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>" if wide else "</tbody></table>")
    return "".join(out)


class Report:
    """Collects sections and renders one self-contained HTML page."""

    def __init__(self, title: str, intro: str = ""):
        self.title = title
        self.intro = intro
        self.sections: "list[Section]" = []

    def section(self, heading: str, text: str = "") -> Section:
        section = Section(heading, text)
        self.sections.append(section)
        return section

    @property
    def figures(self) -> "list[Figure]":
        return [p for s in self.sections for p in s.parts if isinstance(p, Figure)]

    def render(self) -> str:
        out = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
               f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
               f"<title>{_text(self.title)}</title><style>{_STYLE}</style></head><body>"
               f"<h1>{_text(self.title)}</h1>"]
        if self.intro:
            out.append(f"<p>{_text(self.intro)}</p>")
        for section in self.sections:
            out.append(f"<h2>{_text(section.heading)}</h2>")
            if section.text:
                out.append(f"<p>{_text(section.text)}</p>")
            for part in section.parts:
                if isinstance(part, Figure):
                    data = base64.b64encode(part.path.read_bytes()).decode("ascii")
                    out.append(f"<figure><img alt='{html.escape(part.caption)}' "
                               f"src='data:image/png;base64,{data}'><figcaption>"
                               f"{_text(part.caption)}</figcaption></figure>")
                elif isinstance(part, Table):
                    out.append(_table_html(part))
                elif part[0] == "claim":
                    out.append(f"<p class='claim'>{_text(part[1])}</p>")
                elif part[0] == "links":
                    _, text, items = part
                    if text:
                        out.append(f"<p>{_text(text)}</p>")
                    out.append("<ul>" + "".join(
                        f"<li><a href='{html.escape(quote(href))}'>{_text(label)}</a></li>"
                        for href, label in items) + "</ul>")
                else:
                    out.append(f"<p class='note'>{_text(part[1])}</p>")
        out.append("</body></html>")
        return "\n".join(out)

    def write(self, path: "str | Path") -> Path:
        """Render and write atomically to ``path``."""
        path = Path(path)
        files.write_text(path, self.render())
        return path
