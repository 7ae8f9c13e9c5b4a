"""What counts as a person's words in a reply, and which of them ask to stop."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

import pytest

from service.inbound import replies
from service.inbound.reply_text import (
    STOP_PHRASES,
    body_text,
    html_text,
    own_words,
    stop_phrase,
    what_they_wrote,
)
from service.settings import load_settings


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        # Finnish
        ("Lopeta!", "lopeta"),
        ("Lopettakaa näiden lähettäminen.", "lopettakaa"),
        ("Älä lähetä enää mitään", "ala laheta"),
        ("ala laheta", "ala laheta"),  # typed without the dots
        ("En halua näitä viestejä", "en halua"),
        ("Poista minut listalta, kiitos", "poista minut"),
        ("Peru tilaus", "peru tilaus"),
        ("Haluan perua tilauksen", "perua tilauksen"),
        # Swedish
        ("Avregistrera mig, tack", "avregistrera"),
        ("Sluta skicka mejl till mig", "sluta skicka"),
        ("Ta bort mig från listan", "ta bort mig"),
        ("Jag vill avsluta prenumerationen", "avsluta"),
        ("Jag vill inte ha fler utskick", "vill inte ha fler"),
        # English
        ("STOP", "stop"),
        ("Stop.", "stop"),
        ("please unsubscribe me", "unsubscribe"),
        ("Remove me from your list", "remove me"),
        ("take me off this list", "take me off"),
        ("No more.", "no more"),
        ("no more emails please", "no more emails"),
        ("Not interested, stop sending", "stop"),
        ("Please do not email me again", "do not email me"),
        ("I want to opt-out", "opt-out"),
        ("Unsubscribed already, still getting these", "unsubscribed"),
    ],
)
def test_stop_requests_in_three_languages(text: str, phrase: str) -> None:
    assert stop_phrase(text) == phrase


@pytest.mark.parametrize(
    "text",
    [
        "Please don't stop sending these!",
        "Do not stop, I love them",
        "I can't stop reading your newsletter",
        "Stopover in Helsinki next week?",
        "We'll stop by the shop on Friday",
        "Non-stop deals? Great.",
        "Älä lopeta, nämä ovat hyviä",
        "En halua lopettaa tilausta",
        "Ni behöver inte avsluta något",
        "I have no more questions, thanks",
        "Kiitos tarjouksesta!",
        "Tack för erbjudandet",
        "What time do you open on Saturday?",
        "stoppage time",
        "",
    ],
)
def test_what_does_not_ask_to_stop(text: str) -> None:
    assert stop_phrase(text) is None


def test_the_list_is_one_place_and_every_phrase_compiles_alone() -> None:
    import re

    assert len(STOP_PHRASES) == len(set(STOP_PHRASES)) >= 20
    for phrase in STOP_PHRASES:
        re.compile(phrase)


def test_quoted_lines_signatures_and_the_quoted_original_are_not_the_persons() -> None:
    text = (
        "Thanks, see you there!\n"
        "\n"
        "On Mon, 1 Dec 2026 at 10:00, Shop <news@example.fi> wrote:\n"
        "> Autumn offers. Unsubscribe: https://example.fi/u/x\n"
        "STOP here is part of the original too\n"
    )
    assert own_words(text) == "Thanks, see you there!"
    assert stop_phrase(own_words(text)) is None
    finnish = "Kiitos!\n\nma 1.12.2026 klo 10.00 Kauppa (news@example.fi) kirjoitti:\nLopeta\n"
    swedish = "Tack!\n\nDen mån 1 dec. 2026 kl 10:00 skrev Butik <news@example.fi>:\nsluta\n"
    outlook = "Hyvä\n\n-----Original Message-----\nFrom: Shop\nunsubscribe\n"
    signed = "See you\n-- \nMaija\nTo unsubscribe from my blog, write to me\n"
    for reply in (finnish, swedish, outlook, signed):
        assert stop_phrase(own_words(reply)) is None, reply
    assert own_words("> stop\nlopeta\n") == "lopeta"


def test_html_bodies_without_their_quotes() -> None:
    html = (
        "<html><head><style>p{}</style><title>stop</title></head><body>"
        "<div dir='ltr'>Kiitos!</div>"
        "<div class='gmail_quote'><blockquote><p>Unsubscribe here<p>more</blockquote></div>"
        "<blockquote type='cite'>STOP</blockquote>"
        "<p>After the quote</p>"
        "<div id='divRplyFwdMsg'>From: Shop</div><div>unsubscribe (Outlook's original)</div>"
        "</body></html>"
    )
    text = html_text(html)
    assert "Kiitos!" in text and "After the quote" in text
    assert stop_phrase(text) is None
    assert stop_phrase(html_text("<p>Lopeta&nbsp;heti</p><blockquote>kiitos")) == "lopeta"


def message(raw: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_a_re_subject_is_ours_unless_the_body_is_empty() -> None:
    ours = message(b"Subject: Re: Stop the summer heat: AC deals\r\n\r\nThanks, nice!\r\n")
    assert stop_phrase(what_they_wrote(ours)) is None
    edited = message(b"Subject: Re: Autumn offers - STOP\r\n\r\n\r\n")
    assert stop_phrase(what_they_wrote(edited)) == "stop"
    their_own = message(b"Subject: unsubscribe\r\n\r\nThanks\r\n")
    assert stop_phrase(what_they_wrote(their_own)) == "unsubscribe"


@pytest.mark.parametrize(
    "raw",
    [
        b"Subject: x\r\nContent-Type: text/plain; charset=klingon-9\r\n\r\nLopeta \xe4\xe4\r\n",
        b"Subject: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nLopeta \xe4\xe4\xff\r\n",
        b"Subject: x\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nTG9wZXRh!!!not base64\r\n",
        b"Subject: x\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable"
        b"\r\n\r\nLopeta =E4=\r\n",
    ],
)
def test_wrong_charsets_and_encodings_still_read(raw: bytes) -> None:
    text = body_text(message(raw))
    assert isinstance(text, str)
    assert stop_phrase(text) in ("lopeta", None)


@pytest.mark.parametrize(
    "raw",
    [
        b'Content-Type: multipart/mixed; boundary="x"\r\n\r\n--x\r\n--x\r\nContent-Type: ',
        b"Content-Type: multipart/alternative\r\n\r\nno boundary at all\r\n",
        b"Subject: =?utf-8?b?!!!?=\r\nContent-Type: text/html\r\n\r\n<p><<<</b></i>&#xffffffff;",
        b"\x00\x01\x02\xff" * 1000,
        b"Content-Type: message/rfc822\r\n\r\nContent-Type: message/rfc822\r\n\r\n" * 200,
    ],
)
def test_garbage_never_raises(raw: bytes) -> None:
    parsed = message(raw)
    assert isinstance(what_they_wrote(parsed), str)
    replies.is_automatic(parsed, "someone@example.fi")


@pytest.mark.parametrize(
    ("headers", "envelope", "automatic"),
    [
        ("Subject: hello\r\n", "maija@example.fi", False),
        ("Subject: hello\r\nAuto-Submitted: auto-replied\r\n", "maija@example.fi", True),
        ("Subject: hello\r\nPrecedence: bulk\r\n", "maija@example.fi", True),
        ("Subject: hello\r\nPrecedence: auto_reply\r\n", "maija@example.fi", True),
        ("Subject: hello\r\nX-Autoreply: yes\r\n", "maija@example.fi", True),
        ("Subject: Automatic reply: Autumn offers\r\n", "maija@example.fi", True),
        ("Subject: Out of office\r\n", "maija@example.fi", True),
        ("Subject: Automaattinen vastaus: Syksyn tarjoukset\r\n", "maija@example.fi", True),
        ("Subject: Autosvar: Höstens erbjudanden\r\n", "maija@example.fi", True),
        ("Subject: hello\r\n", "", True),  # the null sender: a report or a bounce
        ("Content-Type: multipart/report; report-type=feedback-report\r\n", "x@y.fi", True),
        ("Subject: Mail delivery failed: returning message to sender\r\n", "x@y.fi", True),
        ("Subject: Undeliverable: Autumn offers\r\n", "x@y.fi", True),
        ("Subject: hello\r\nX-Failed-Recipients: gone@example.net\r\n", "x@y.fi", True),
        ("From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\n", "x@y.fi", True),
        ("Subject: hello\r\n", "postmaster@mx.example.net", True),
        ("From: Postman Pat <pat@example.fi>\r\nSubject: Re: Autumn\r\n", "pat@example.fi", False),
    ],
)
def test_automatic_replies(headers: str, envelope: str, automatic: bool) -> None:
    parsed = message(headers.encode() + b"\r\nI am away until Monday. Stop.\r\n")
    assert replies.is_automatic(parsed, envelope) is automatic


def test_a_forwarded_reply_holds_the_original_byte_for_byte() -> None:
    settings = load_settings(
        {
            "CONSENTRY_MAIL_FROM": "Shop <news@example.fi>",
            "CONSENTRY_REPLY_FORWARD_TO": "service@example.fi",
            "CONSENTRY_SECRET_KEY": "k" * 40,
            "CONSENTRY_DATA_KEY": "d" * 40,
        }
    )
    original = (
        b"From: Maija <maija@example.fi>\r\nSubject: =?utf-8?q?Kysymys?=\r\n"
        b"Content-Type: text/plain; charset=iso-8859-1\r\n\r\nMit\xe4 kuuluu?\r\n"
    )
    wrapped = replies.wrap(original, settings=settings)
    assert original in wrapped
    outer = message(wrapped)
    assert outer["From"] == "news@example.fi"
    assert outer["To"] == "service@example.fi"
    assert outer["Reply-To"] == "maija@example.fi"
    attached = [p for p in outer.iter_attachments() if p.get_content_type() == "message/rfc822"]
    assert len(attached) == 1
    assert attached[0].get_content()["Subject"] == "Kysymys"
