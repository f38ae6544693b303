"""A report's index.md as one self-contained HTML page (figures inlined)."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

CSS = ("body{font-family:system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em;line-height:1.45}"
       "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}"
       "td:first-child,th:first-child{text-align:left}img{max-width:100%}code{font-size:.9em}")


def to_html(markdown: str, title: str, folder: Path) -> str:
    """Self-contained HTML: markdown rendered by markdown-it (tables on), PNGs under ``folder`` inlined as base64."""
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark").enable("table").render(markdown)

    def inline(match: re.Match) -> str:
        path = folder / match.group(1)
        if not path.is_file():
            return match.group(0)
        return f'src="data:image/png;base64,{base64.b64encode(path.read_bytes()).decode()}"'

    body = re.sub(r'src="([^":]+\.png)"', inline, body)
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{CSS}</style></head><body>\n{body}</body></html>\n")
