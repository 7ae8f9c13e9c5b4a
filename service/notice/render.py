"""The privacy notice and the record of processing as Markdown or HTML.

The templates (``templates/notice/{notice,record}.{fi,en}.md.j2``) are
Markdown. Every value they print passes through ``escape_markdown`` (the
environment's ``finalize``), so a controller called ``A*B Oy`` is printed as
written, never as markup. HTML is made from that Markdown by the small
converter below, which knows the few constructs the templates use (headings,
paragraphs, bullet lists, ``**bold**``, backslash escapes) and escapes
everything else.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Sequence
from enum import StrEnum
from functools import cache
from pathlib import Path

import jinja2

from service.models import Processor
from service.notice.content import context
from service.settings import Settings

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "notice"
# Characters that could start markup in the middle of a line.
_SPECIAL = "\\`*_[]<>#|"
_SPECIAL_RE = re.compile("([" + re.escape(_SPECIAL) + "])")
_HEADING = re.compile(r"^(#{1,6}) +(.*)$")
VERSION_LENGTH = 12

_FOOTER = {
    "fi": "Tämä asiakirja on tuotettu {date} Consentry-palvelun asetuksista ja koodista "
    "(`consentry notice`). Sisällön versio: {version}.",
    "en": "This document was generated on {date} from the settings and the code of the "
    "Consentry service (`consentry notice`). Content version: {version}.",
}


class Format(StrEnum):
    MARKDOWN = "markdown"
    HTML = "html"


class Document(StrEnum):
    NOTICE = "notice"
    RECORD = "record"


def escape_markdown(value: object) -> str:
    """A value as literal Markdown text, on one line."""
    return _SPECIAL_RE.sub(r"\\\1", " ".join(str(value).split()))


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(  # noqa: S701  (Markdown: values are escaped by finalize)
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=escape_markdown,
    )


def content_version(markdown: str) -> str:
    """A short digest of the text: it changes exactly when the content does,
    so a consent's evidence can name the notice version that was shown."""
    return hashlib.sha256(markdown.encode()).hexdigest()[:VERSION_LENGTH]


def render_markdown(
    settings: Settings,
    *,
    lang: str,
    document: Document,
    processors: Sequence[Processor] | None = None,
) -> str:
    values = context(settings, lang, processors)
    body = _environment().get_template(f"{document.value}.{lang}.md.j2").render(values)
    body = body.rstrip("\n") + "\n"
    today = values["today"]
    day = f"{today.day}.{today.month}.{today.year}" if lang == "fi" else today.isoformat()
    footer = _FOOTER[lang].format(date=day, version=content_version(body))
    return f"{body}\n---\n\n{footer}\n"


def render(
    settings: Settings,
    *,
    lang: str,
    document: Document = Document.NOTICE,
    fmt: Format,
    processors: Sequence[Processor] | None = None,
) -> str:
    """``processors``: the register's active processors (None: not read)."""
    markdown = render_markdown(settings, lang=lang, document=document, processors=processors)
    if fmt is Format.MARKDOWN:
        return markdown
    return markdown_to_html(markdown, lang=lang)


# -- Markdown to HTML ----------------------------------------------------------


def _inline(text: str) -> str:
    parts, strong, code, i = [], False, False, 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text) and text[i + 1] in _SPECIAL:
            parts.append(html.escape(text[i + 1]))
            i += 2
        elif char == "`":
            parts.append("</code>" if code else "<code>")
            code = not code
            i += 1
        elif text.startswith("**", i):
            parts.append("</strong>" if strong else "<strong>")
            strong = not strong
            i += 2
        else:
            parts.append(html.escape(char))
            i += 1
    # An unclosed marker closes at the end of the line, so tags always pair up.
    if code:
        parts.append("</code>")
    if strong:
        parts.append("</strong>")
    return "".join(parts)


def markdown_to_html(markdown: str, *, lang: str) -> str:
    """A standalone HTML page of the notice's Markdown."""
    blocks: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []
    title = ""

    def close() -> None:
        if paragraph:
            blocks.append(f"<p>{' '.join(paragraph)}</p>")
            paragraph.clear()
        if items:
            blocks.append("<ul>\n" + "\n".join(f"<li>{item}</li>" for item in items) + "\n</ul>")
            items.clear()

    for line in markdown.splitlines():
        stripped = line.strip()
        heading = _HEADING.match(stripped)
        if not stripped:
            close()
        elif stripped == "---":
            close()
            blocks.append("<hr>")
        elif heading:
            close()
            level, text = len(heading.group(1)), _inline(heading.group(2))
            title = title or re.sub(r"<[^>]+>", "", text)
            blocks.append(f"<h{level}>{text}</h{level}>")
        elif stripped.startswith("- "):
            if paragraph:
                close()
            items.append(_inline(stripped[2:]))
        elif items and line.startswith("  "):
            items[-1] += " " + _inline(stripped)
        else:
            if items:
                close()
            paragraph.append(_inline(stripped))
    close()
    body = "\n".join(blocks)
    return (
        f'<!doctype html>\n<html lang="{html.escape(lang)}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )
