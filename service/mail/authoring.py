"""Turning what a marketer writes into a campaign's templates.

A layout is written in MJML and compiled with MRML when it is saved
(:func:`compile_layout`); a body is Markdown (:func:`markdown_html`, raw
HTML escaped) or an HTML fragment. :func:`compose` puts the body where the
layout says ``{{ content }}``, inlines the CSS (mail clients drop ``<style>``
more often than not) and makes the text part from the result.

Why here, at save time, and not per recipient: the result is still a Jinja
template, rendered for each recipient in the sandbox like any body. The
layout and the body are joined as *source*, before that rendering, so a
contact's data is only ever a value in the sandbox and never parsed as a
template. A layout holds no template code of its own (:func:`compile_layout`
refuses it), so it reaches nothing the body cannot. The body's Jinja tags are
set aside as opaque tokens while Markdown, the CSS inliner and the text
converter work, and put back verbatim after.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

import css_inline
import inscriptis
import mrml
from inscriptis.model.config import ParserConfig
from markdown_it import MarkdownIt

# Where a layout takes the body; any spacing inside the braces.
CONTENT_SLOT = re.compile(r"\{\{-?\s*content\s*-?\}\}")
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_JINJA_OPEN = re.compile(r"\{\{|\{%|\{#")
MAX_MJML = 200_000

_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table").enable("strikethrough")
_TEXT = ParserConfig(display_links=True)
_INLINER = css_inline.CSSInliner(
    keep_at_rules=True,  # the layout's @media rules are what make it responsive
    load_remote_stylesheets=False,
)


class AuthoringError(ValueError):
    """What the marketer wrote cannot be turned into a message; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Composed:
    html: str
    text: str


def compile_layout(source: str) -> str:
    """MJML to HTML. The source must hold one ``{{ content }}`` and no other
    template code. Includes are not loaded, web fonts not linked (no request
    leaves the service and none leaves the reader's mail client for a font).
    Raises AuthoringError (field ``mjml``) with the compiler's message."""
    if len(source) > MAX_MJML:
        raise AuthoringError("mjml", f"a layout is at most {MAX_MJML} characters")
    slots = len(CONTENT_SLOT.findall(source))
    if slots != 1:
        raise AuthoringError(
            "mjml",
            "the layout needs {{ content }} exactly once, where the campaign's body goes"
            + (f" (found {slots} times)" if slots else ""),
        )
    if _JINJA_OPEN.search(CONTENT_SLOT.sub("", source)):
        raise AuthoringError(
            "mjml", "a layout holds no template code besides {{ content }} ({{, {% or {#)"
        )
    try:
        output = mrml.to_html(
            source,
            parser_options=mrml.ParserOptions(include_loader=mrml.noop_loader()),
            render_options=mrml.RenderOptions(fonts={}),
        )
    except (OSError, ValueError, RuntimeError) as exc:  # MRML's parse errors
        raise AuthoringError("mjml", f"the MJML cannot be compiled: {exc}") from None
    html = str(output.content)
    slot = CONTENT_SLOT.search(html)
    rest = CONTENT_SLOT.sub("", html)
    if (
        slot is None
        or len(CONTENT_SLOT.findall(html)) != 1
        or _JINJA_OPEN.search(rest)
        or _inside_tag(html, slot.start())
    ):
        raise AuthoringError("mjml", "put {{ content }} inside text, e.g. in an <mj-text>")
    return html


def _inside_tag(html: str, at: int) -> bool:
    return html.rfind("<", 0, at) > html.rfind(">", 0, at)


def markdown_html(source: str) -> str:
    """Markdown to an HTML fragment; HTML written in the Markdown is shown as text."""
    return str(_MARKDOWN.render(source))


class _Tokens:
    """The body's Jinja tags, set aside as tokens no converter changes."""

    def __init__(self) -> None:
        self._nonce = secrets.token_hex(4)
        self.originals: dict[str, str] = {}

    def hide(self, source: str) -> str:
        def token(match: re.Match[str]) -> str:
            name = f"jx{self._nonce}x{len(self.originals)}xj"
            self.originals[name] = match.group(0)
            return name

        return _JINJA.sub(token, source)

    def as_comments(self, html: str) -> str:
        """Tokens between tags become comments, which an HTML parser leaves in
        place even inside a table (bare text there is moved before it)."""
        out: list[str] = []
        last = 0
        for name in self.originals:
            at = html.find(name, last)
            if at < 0:
                continue
            out.append(html[last:at])
            out.append(name if _inside_tag(html, at) else f"<!--{name}-->")
            last = at + len(name)
        out.append(html[last:])
        return "".join(out)

    def restore(self, text: str, field: str) -> str:
        for name, original in self.originals.items():
            pattern = re.compile(rf"(?:<!--|&lt;!--)?{name}(?:-->|--&gt;)?")
            text, count = pattern.subn(lambda _m: original, text)  # noqa: B023 (used at once)
            if count != 1:
                raise AuthoringError(
                    field,
                    f"the template tag {original[:60]!r} could not be kept in place; "
                    "write template tags in text or in quoted attribute values",
                )
        return text


def compose(
    *, body: str, markdown: bool, layout_html: str | None, field: str = "body_source"
) -> Composed:
    """The campaign's HTML template (the body in the layout, CSS inlined) and
    a text template made from it. Without a layout the HTML is the body alone
    (Markdown converted), which the trusted wrapper frames as before."""
    tokens = _Tokens()
    hidden = tokens.hide(body)
    fragment = markdown_html(hidden) if markdown else hidden
    if layout_html is None:
        document = fragment
        html = document
    else:
        document = CONTENT_SLOT.sub(lambda _m: fragment, layout_html, count=1)
        try:
            html = _INLINER.inline(tokens.as_comments(document))
        except css_inline.InlineError as exc:
            raise AuthoringError(field, f"the styles cannot be inlined: {exc}") from None
    text = plain_text(document)
    return Composed(html=tokens.restore(html, field), text=tokens.restore(text, field))


def plain_text(html: str) -> str:
    """The text part made from an HTML body: links spelt out, the layout's
    table padding gone, at most one empty line in a row."""
    lines = [line.strip() for line in inscriptis.get_text(html, _TEXT).splitlines()]
    text = _BLANKS.sub("\n\n", "\n".join(lines)).strip()
    return text + "\n"


_BLANKS = re.compile(r"\n{3,}")
_IMG = re.compile(r"<img\b", re.IGNORECASE)
# Below this many words of text with an image in it, a message is mostly
# pictures; the open pixel then makes a large share of what a spam filter
# sees (an image-to-text ratio rule, e.g. SpamAssassin's HTML_IMAGE_ONLY_*).
FEW_WORDS = 120


def pixel_dominates(html: str) -> bool:
    """Whether the open pixel would dominate this body: it has images and
    fewer than FEW_WORDS words of text. Jinja tags count as one word each."""
    if not _IMG.search(html):
        return False
    return len(inscriptis.get_text(html).split()) < FEW_WORDS
