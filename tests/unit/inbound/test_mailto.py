"""Reading mails to the unsubscribe address: the token and the sender."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage, Message

import pytest

from service.inbound.mailto import BODY_LINES, is_automatic, sender_addresses, token_ids
from service.tokens import TokenSigner

SECRET = "unit-secret-" + "s" * 40
SIGNER = TokenSigner(SECRET)
TOKEN = SIGNER.sign("unsubscribe", 42, 7)


def mail(subject: str = "", body: str = "", **headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = headers.pop("From", "Maija <maija@example.fi>")
    message["To"] = "unsubscribe@example.fi"
    if subject:
        message["Subject"] = subject
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body or "\n")
    return reparse(message)


def reparse(message: Message) -> EmailMessage:
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


@pytest.mark.parametrize(
    "subject",
    [
        f"unsubscribe {TOKEN}",
        f"Re: unsubscribe {TOKEN}",
        f"UNSUBSCRIBE {TOKEN}.",
        f"Peruutan tilauksen {TOKEN}, terveisin Mäkelä",  # non-ASCII: an encoded-word
    ],
)
def test_the_token_in_the_subject(subject: str) -> None:
    assert token_ids(mail(subject), SIGNER) == (42, 7)


def test_the_token_in_the_first_lines_of_the_body() -> None:
    body = f"Hei,\n\nlopettakaa kiitos.\nhttps://example.fi/u/{TOKEN}\n\nMaija\n"
    assert token_ids(mail("Unsubscribe", body), SIGNER) == (42, 7)


def test_the_token_in_a_quoted_printable_html_only_body() -> None:
    message = EmailMessage()
    message["Subject"] = "stop"
    message.set_content(f"<p>unsubscribe {TOKEN}</p>", subtype="html", cte="quoted-printable")
    assert token_ids(reparse(message), SIGNER) == (42, 7)


def test_a_token_far_down_the_body_is_not_read() -> None:
    body = "\n".join(["> quoted"] * BODY_LINES + [TOKEN])
    assert token_ids(mail("stop", body), SIGNER) is None


def test_a_valid_token_after_a_damaged_one_is_found() -> None:
    damaged = TOKEN[:-3] + ("AAA" if not TOKEN.endswith("AAA") else "BBB")
    assert token_ids(mail(f"unsubscribe {damaged} {TOKEN}"), SIGNER) == (42, 7)


@pytest.mark.parametrize(
    "token",
    [
        TokenSigner("another-secret-" + "x" * 40).sign("unsubscribe", 42, 7),  # forged
        SIGNER.sign("preferences", 42),  # another purpose
        TOKEN[:-2] + ("AA" if not TOKEN.endswith("AA") else "BB"),  # damaged
        "www.example.fi",
    ],
)
def test_no_valid_token(token: str) -> None:
    assert token_ids(mail(f"unsubscribe {token}", f"unsubscribe {token}"), SIGNER) is None


def test_a_token_signed_with_a_retired_secret_still_works() -> None:
    old = TokenSigner("retired-secret-" + "r" * 40)
    rotated = TokenSigner(SECRET, ["retired-secret-" + "r" * 40])
    assert token_ids(mail(f"unsubscribe {old.sign('unsubscribe', 5, 6)}"), rotated) == (5, 6)


def test_sender_addresses_are_normalised_without_repeats() -> None:
    message = mail(From="Maija Meikäläinen <Maija@Example.FI>")
    assert sender_addresses(message, "maija@example.fi") == ["maija@example.fi"]
    assert sender_addresses(message, "bounce+x@lists.example.net") == [
        "bounce+x@lists.example.net",
        "maija@example.fi",
    ]
    # The null sender of automatic mail, and an unreadable From.
    assert sender_addresses(mail(From="not an address"), "") == []


def test_automatic_mail_is_recognised() -> None:
    assert not is_automatic(mail("stop"))
    assert not is_automatic(mail("stop", Auto_Submitted="no"))
    assert is_automatic(mail("Out of office", Auto_Submitted="auto-replied"))
    report = mail("Undelivered")
    report.replace_header("Content-Type", "multipart/report; report-type=delivery-status")
    assert is_automatic(report)
