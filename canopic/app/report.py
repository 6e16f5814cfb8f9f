"""A single-file HTML report: sections of text, tables and PNG figures embedded as base64.

>>> from canopic.app.report import Report
>>> report = Report("CAnOPIC demo")
>>> section = report.section("Privacy", "Strongest attack accuracy.")
>>> section.table(["config", "top-1"], [["blur", "0.62"]])
>>> html = report.render()
>>> "<table>" in html and "CAnOPIC demo" in html
True
"""
from __future__ import annotations

import base64
import dataclasses
import html
from pathlib import Path
from typing import Sequence

from canopic.core import files

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { border-bottom: 2px solid #444; } h2 { margin-top: 2em; border-bottom: 1px solid #bbb; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
th { background: #f0f0f0; } td:first-child, th:first-child { text-align: left; }
figure { display: inline-block; margin: 0.5em; vertical-align: top; }
figure img { max-width: 1040px; border: 1px solid #ddd; }
figcaption { font-size: 0.85em; color: #555; max-width: 1040px; }
.note { color: #555; font-size: 0.9em; }
"""


@dataclasses.dataclass
class Figure:
    path: Path
    caption: str


@dataclasses.dataclass
class Section:
    heading: str
    text: str = ""
    parts: list = dataclasses.field(default_factory=list)

    def figure(self, path: "str | Path", caption: str) -> None:
        """Embed the PNG at ``path`` (must exist when the report is rendered)."""
        self.parts.append(Figure(Path(path), caption))

    def table(self, header: Sequence[str], rows: Sequence[Sequence], caption: str = "") -> None:
        """A table of strings (numbers are formatted by the caller)."""
        self.parts.append(("table", list(header), [list(map(str, r)) for r in rows], caption))

    def paragraph(self, text: str) -> None:
        self.parts.append(("p", text))


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
        out = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(self.title)}"
               f"</title><style>{_STYLE}</style></head><body><h1>{html.escape(self.title)}</h1>"]
        if self.intro:
            out.append(f"<p>{html.escape(self.intro)}</p>")
        for section in self.sections:
            out.append(f"<h2>{html.escape(section.heading)}</h2>")
            if section.text:
                out.append(f"<p>{html.escape(section.text)}</p>")
            for part in section.parts:
                if isinstance(part, Figure):
                    data = base64.b64encode(part.path.read_bytes()).decode("ascii")
                    out.append(f"<figure><img alt='{html.escape(part.caption)}' "
                               f"src='data:image/png;base64,{data}'><figcaption>"
                               f"{html.escape(part.caption)}</figcaption></figure>")
                elif part[0] == "table":
                    _, header, rows, caption = part
                    out.append("<table>")
                    if caption:
                        out.append(f"<caption>{html.escape(caption)}</caption>")
                    out.append("<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>")
                    for row in rows:
                        out.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>")
                    out.append("</table>")
                else:
                    out.append(f"<p class='note'>{html.escape(part[1])}</p>")
        out.append("</body></html>")
        return "\n".join(out)

    def write(self, path: "str | Path") -> Path:
        """Render and write atomically to ``path``."""
        path = Path(path)
        files.write_text(path, self.render())
        return path
