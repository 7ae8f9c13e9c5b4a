"""A reply's own words, and whether they ask us to stop.

A reply holds much that its sender did not write: the quoted original (our
campaign, which may well say "unsubscribe"), a signature, a client's
"On … wrote:" line. Only what the person typed counts, so that a quoted
footer never files an objection for someone who wrote "thanks!".

``STOP_PHRASES`` is the one list of what asks to stop, in Finnish, Swedish
and English. Matching is case-insensitive, tolerant of missing accents
("ala laheta" is "älä lähetä") and bound to whole words ("stopover" is not
"stop"). A phrase with a negation just before it ("don't stop", "älä
lopeta", "inte avsluta") does not count.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from email.message import EmailMessage, Message
from html.parser import HTMLParser

# What a hostile message may make us read: a person's reply is short.
MAX_HTML_CHARS = 200_000
MAX_TEXT_CHARS = 20_000
_NEGATION_WINDOW = 3  # words before a phrase that may negate it
MAX_PHRASE_CHARS = 40  # "unsubscribe\w*" could otherwise quote a whole run of text

# Written as people type them; normalised (accents off, lower case) before use.
# A space stands for any run of whitespace. Regex syntax is allowed.
STOP_PHRASES: tuple[str, ...] = (
    # English
    r"stop(?! (?:by|over|in|at)\b)",
    r"unsubscribe\w*",
    r"opt[ -]?out",
    r"remove me",
    r"remove my (?:e-?mail|address|name|details|data)",
    r"take me off",
    r"no more (?:e-?mails?|mails?|messages?|newsletters?|marketing|spam|ads|offers)\b",
    r"no more\s*[.!]*\s*$",  # "No more." alone
    r"(?:do not|don't|dont) (?:send|e-?mail|mail|contact|message) (?:me|us|anything)",
    r"(?:do not|don't|dont) want (?:any|these|this|your)",
    # Finnish
    r"lopet\w*",
    r"ala laheta",
    r"alkaa lahettako",
    r"en halua(?! (?:lopett|peru|poist)\w*)",
    r"poista\w* minut",
    r"poista\w* (?:sahkopostiosoitteeni|osoitteeni|tietoni)",
    r"peru\w* tilau\w*",
    r"tilauksen peru\w*",
    r"ei enaa (?:postia|viesteja|sahkoposteja|markkinointia|mainoksia)",
    # Swedish
    r"avregistrera\w*",
    r"avsluta\w*",
    r"avbestall\w*",
    r"sluta (?:skicka|maila|mejla)\w*",
    r"ta bort mig",
    r"ta bort min (?:e-?post\w*|adress)",
    r"vill inte ha (?:fler|mer|nagra|era)\b",
    r"stoppa[rst]?",  # not "stoppage"
)
_NEGATIONS = frozenset(
    {
        # English
        "don't", "dont", "not", "never", "won't", "wont", "can't", "cant", "cannot",
        "didn't", "didnt",
        # Finnish: "älä lopeta", "en halua lopettaa", "ei tarvitse perua"
        "ala", "alkaa", "en", "et", "ei", "emme", "ette", "eivat",
        # Swedish
        "inte", "aldrig", "ej",
    }
)  # fmt: skip
_ANY_PHRASE = "|".join("(?:" + phrase.replace(" ", r"\s+") + ")" for phrase in STOP_PHRASES)
_STOP = re.compile(rf"(?<![\w'-])(?:{_ANY_PHRASE})(?![\w-])", re.IGNORECASE | re.MULTILINE)
_WORD = re.compile(r"[\w']+")

# Where the quoted original begins: everything from this line on is not the
# person's. Gmail, Apple Mail, Thunderbird and Outlook, in en, fi and sv.
_QUOTE_HEADER = re.compile(
    r"""^\s*(?:
        .*\b(?:wrote|writes|kirjoitti|skrev)\s*:\s*$
      | .*\bskrev\b.*:\s*$
      | -{2,}\s*(?:original\ message|alkuperainen\ viesti|ursprungligt\ meddelande
                 |forwarded\ message|valitetty\ viesti|vidarebefordrat\ meddelande)
      | _{10,}\s*$
      | (?:from|lahettaja|fran|sent|lahetetty|skickat)\s*:\s
    )""",
    re.IGNORECASE | re.VERBOSE,
)
_SIGNATURE = re.compile(r"^--\s*$")
_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|sv|vs|aw|fw|fwd|vl)\s*(?:\[\d+\])?\s*:\s*)+", re.I)


def fold(text: str) -> str:
    """Lower case, accents off, typographic apostrophes plain: what matching sees."""
    decomposed = unicodedata.normalize("NFKD", text.replace("\u2019", "'").replace("\u2018", "'"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def stop_phrase(text: str) -> str | None:
    """The first phrase in ``text`` that asks to stop and is not negated, as
    written in the folded text (one of ours, never more of the person's words)."""
    folded = fold(text[:MAX_TEXT_CHARS])
    for match in _STOP.finditer(folded):
        line_start = max(folded.rfind("\n", 0, match.start()), 0)
        # The words just before it, in the same clause: "not interested, stop" stops.
        before = re.split(r"[.,!?;:]", folded[line_start : match.start()])[-1]
        if _NEGATIONS.intersection(_WORD.findall(before)[-_NEGATION_WINDOW:]):
            continue
        return " ".join(match.group().split()).rstrip(".! ")[:MAX_PHRASE_CHARS]
    return None


def own_words(text: str) -> str:
    """The lines the person typed: quoted lines (">") dropped, and nothing
    from the signature or the quoted original's header line on."""
    kept: list[str] = []
    for line in text[:MAX_TEXT_CHARS].splitlines():
        if _SIGNATURE.match(line) or _QUOTE_HEADER.match(fold(line)):
            break
        if not line.lstrip().startswith(">"):
            kept.append(line)
    return "\n".join(kept).strip()


def subject_words(message: Message) -> tuple[str, bool]:
    """The subject without "Re:"-style prefixes, and whether it had one."""
    try:
        subject = str(message.get("subject", "") or "")
    except Exception:  # a header the email package cannot decode
        return "", False
    stripped = _REPLY_PREFIX.sub("", subject, count=1)
    return stripped[:1000], stripped != subject


def what_they_wrote(message: Message) -> str:
    """The subject (when the person wrote it) and the person's own words.

    A "Re:" subject is usually our campaign's subject, unchanged, and that
    is ours, not theirs: it counts only when the body says nothing at all
    (someone who answered by editing only the subject line).
    """
    subject, is_reply = subject_words(message)
    body = own_words(body_text(message))
    if is_reply and body:
        return body
    return f"{subject}\n{body}".strip()


def body_text(message: Message) -> str:
    """The text/plain body, or the text of the text/html one; "" when there
    is none that can be decoded."""
    if not isinstance(message, EmailMessage):
        return ""
    try:
        part = message.get_body(preferencelist=("plain", "html"))
    except Exception:  # a broken structure
        return ""
    if part is None:
        return ""
    text = _decoded(part)
    if part.get_content_subtype() == "html":
        return html_text(text[:MAX_HTML_CHARS])
    return text[:MAX_TEXT_CHARS]


def _decoded(part: Message) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
        if isinstance(content, str):
            return content
    except (LookupError, ValueError, AssertionError, UnicodeError):
        pass  # an unknown or wrong charset, a broken transfer encoding
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        return ""
    return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""


# Elements whose content is the quoted original in the HTML of common clients.
_QUOTE_CLASSES = ("gmail_quote", "moz-cite-prefix", "yahoo_quoted", "protonmail_quote")
_QUOTE_IDS = ("divrplyfwdmsg", "appendonsend", "mail-editor-reference-message-container")
_BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "table", "hr"})
_VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "col", "area", "base", "wbr"})


class _TextOfHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._open: list[tuple[str, bool]] = []  # open elements: (tag, whether a quote)
        self._quoted = 0
        self._hidden = 0  # inside <style>, <script>, <head>
        self._cut = False  # past an Outlook quote marker: the rest is the original

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS:
            self.parts.append("\n")
        if tag in _VOID:
            return
        values = {name: (value or "").lower() for name, value in attrs}
        quote = (
            tag == "blockquote"
            or any(name in values.get("class", "") for name in _QUOTE_CLASSES)
            or values.get("id", "") in _QUOTE_IDS
        )
        if values.get("id", "") in _QUOTE_IDS:
            self._cut = True
        self._open.append((tag, quote))
        self._quoted += quote
        if tag in ("style", "script", "head", "title"):
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        if tag in ("style", "script", "head", "title"):
            self._hidden = max(0, self._hidden - 1)
        # Up to the element this closes: HTML leaves many tags unclosed.
        if any(name == tag for name, _ in self._open):
            while self._open:
                name, quote = self._open.pop()
                self._quoted -= quote
                if name == tag:
                    break
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not (self._quoted or self._hidden or self._cut):
            self.parts.append(data)


def html_text(html: str) -> str:
    """The visible text of an HTML body outside quoted blocks."""
    parser = _TextOfHtml()
    with contextlib.suppress(Exception):  # lenient as it is, it may still refuse some
        parser.feed(html)
        parser.close()
    return re.sub(r"[ \t\r\f\v]+", " ", "".join(parser.parts))
