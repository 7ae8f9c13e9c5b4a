"""Campaign email: save-time template checks, rendering, and the MIME message."""

from __future__ import annotations

import email
import email.policy
import shutil
from email.message import EmailMessage
from pathlib import Path

import jinja2
import pytest

from service.mail.message import build_message
from service.mail.render import (
    DEFAULT_LAYOUT_DIR,
    CampaignRenderer,
    Content,
    Controller,
    Links,
    Rendered,
    TemplateError,
    TemplateProblem,
    _default_layout_dir,
    check_templates,
)
from service.mail.views import Recipient
from service.settings import load_settings

CONTROLLER = Controller(
    name="Smith & Virtanen Oy",
    business_id="1234567-8",
    address="Esimerkkikatu 1, 00100 Helsinki",
    privacy_contact="tietosuoja@example.fi",
)
GOOD = Content(
    subject="{{ contact.name }}, kevään tarjoukset",
    body_html="<p>Hei {{ contact.name }}!</p>\n<p>{{ campaign.name }}</p>",
    body_text="Hei {{ contact.name }}!\n\n{{ campaign.name }}",
)
SWEDISH = Content(
    subject="{{ contact.name }}, vårens erbjudanden",
    body_html="<p>Hej {{ contact.name }}!</p>",
    body_text="Hej {{ contact.name }}!",
)
LINKS = Links(unsubscribe_url="https://consentry.example.fi/u/TOKEN")
ALL_LINKS = Links(
    unsubscribe_url="https://consentry.example.fi/u/TOKEN",
    preferences_url="https://consentry.example.fi/p/TOKEN",
    stop_tracking_url="https://consentry.example.fi/t/TOKEN",
    open_pixel_url="https://consentry.example.fi/o/TOKEN.gif",
)
UNSUBSCRIBE_TEXT = {"fi": "Peru tilaus", "sv": "Avsluta prenumerationen", "en": "Unsubscribe"}


def person(
    language: str = "fi",
    gender: str = "female",
    *,
    full_name: str = "Aino Virtanen",
    nickname: str | None = None,
    city: str | None = None,
) -> Recipient:
    return Recipient(full_name, nickname, language, gender, city=city)


def renderer(
    default: Content = GOOD,
    translations: dict[str, Content] | None = None,
    layout_dir: Path = DEFAULT_LAYOUT_DIR,
) -> CampaignRenderer:
    return CampaignRenderer(
        campaign_id=7,
        campaign_name="Kevät 2026",
        default=default,
        translations=translations or {},
        controller=CONTROLLER,
        layout_dir=layout_dir,
    )


def body(html: str = "<p>x</p>", text: str = "x", subject: str = "Hei") -> Content:
    return Content(subject=subject, body_html=html, body_text=text)


def only(problems: list[TemplateProblem]) -> TemplateProblem:
    assert len(problems) == 1, problems
    return problems[0]


# --- save-time checks -----------------------------------------------------------------


def test_good_templates_have_no_problems() -> None:
    assert check_templates(GOOD, {"sv": SWEDISH}) == []


def test_syntax_error_reports_field_and_line() -> None:
    problem = only(check_templates(body(html="<p>\n<p>\n{{ contact.name }\n</p>"), {}))
    assert (problem.field, problem.line) == ("body_html", 3)
    assert "}" in problem.message


def test_undefined_attribute_reports_field_line_and_the_template_name() -> None:
    problem = only(check_templates(body(text="Hei\n{{ contact.nme }}"), {}))
    assert problem == TemplateProblem("body_text", 2, "'contact' has no attribute 'nme'")


def test_problems_in_translations_name_the_language() -> None:
    problems = check_templates(
        GOOD,
        {
            "sv": body(html="<p>\n\n\n{{ campaign.nope }}</p>"),
            "en": body(subject="{% if %}"),
        },
    )
    assert TemplateProblem(
        "translations.sv.body_html", 4, "'campaign' has no attribute 'nope'"
    ) in (problems)
    assert [p.field for p in problems if p.field.startswith("translations.en")] == [
        "translations.en.subject"
    ]


def test_unknown_translation_language_is_a_problem() -> None:
    assert only(check_templates(GOOD, {"de": GOOD})).field == "translations.de"


def test_errors_on_one_branch_are_found_by_the_sample_recipients() -> None:
    source = (
        "a\n{% if contact.gender == 'other' and contact.nickname %}{{ contact.oops }}{% endif %}"
    )
    problem = only(check_templates(body(text=source), {}))
    assert (problem.field, problem.line) == ("body_text", 2)


def test_optional_fields_are_sometimes_missing_in_the_check() -> None:
    problem = only(check_templates(body(html="{{ contact.employer.upper() }}"), {}))
    assert problem.field == "body_html"


def test_subject_with_a_line_break_after_rendering_is_refused() -> None:
    problem = only(check_templates(body(subject="Hei{{ '\\n' }}Bcc: x@example.fi"), {}))
    assert problem.field == "subject"
    assert "single line" in problem.message
    source = "Hei{% if contact.language == 'sv' %}\r{% endif %}"
    assert only(check_templates(GOOD, {"en": body(subject=source)})).field == (
        "translations.en.subject"
    )


def test_subject_length_and_emptiness_are_checked_after_rendering() -> None:
    assert "300" in only(check_templates(body(subject="{{ 'x' * 301 }}"), {})).message
    assert check_templates(body(subject="{{ 'x' * 300 }}"), {}) == []
    assert "empty" in only(check_templates(body(subject="{{ '' }} "), {})).message


@pytest.mark.parametrize(
    "source",
    [
        "{{ contact.__class__.__mro__ }}",
        "{{ contact.__setattr__('name', 'x') }}",
        "{{ campaign.__init__.__globals__ }}",
        "{{ contact.full_name.__class__.__base__.__subclasses__() }}",
    ],
)
def test_sandbox_refuses_internals(source: str) -> None:
    problem = only(check_templates(body(html=f"<p>\n{source}</p>"), {}))
    assert (problem.field, problem.line) == ("body_html", 2)
    assert "unsafe" in problem.message


@pytest.mark.parametrize("source", ["{{ 9 ** 9 ** 9 }}", "{{ 'x' * 100000000 }}"])
def test_sandbox_refuses_runaway_arithmetic(source: str) -> None:
    assert only(check_templates(body(text=source), {})).field == "body_text"


def test_renderer_refuses_bad_templates() -> None:
    with pytest.raises(TemplateError) as caught:
        renderer(body(html="{{ contact.email }}"))
    assert caught.value.problems == [
        TemplateProblem("body_html", 1, "'contact' has no attribute 'email'")
    ]
    assert "body_html, line 1: 'contact' has no attribute 'email'" in str(caught.value)


# --- rendering -------------------------------------------------------------------------


def test_html_is_escaped_and_text_and_subject_are_not() -> None:
    content = body(
        subject="{{ contact.full_name }}",
        html="<p>{{ contact.full_name }}</p>",
        text="{{ contact.full_name }}",
    )
    name = "<script>alert(1)</script> & co"
    rendered = renderer(content).render(person(full_name=name), LINKS)
    assert "<p>&lt;script&gt;alert(1)&lt;/script&gt; &amp; co</p>" in rendered.html
    assert "<script>" not in rendered.html
    assert rendered.text.startswith(name)
    assert rendered.subject == name


PRONOUNS = {
    ("en", "female"): "she her her",
    ("en", "male"): "he his him",
    ("en", "other"): "they their them",
    ("en", "unspecified"): "they their them",
    ("sv", "female"): "hon hennes henne",
    ("sv", "male"): "han hans honom",
    ("sv", "other"): "hen hens hen",
    ("sv", "unspecified"): "hen hens hen",
    **{("fi", gender): "hän hänen hänet" for gender in ("female", "male", "other", "unspecified")},
}


@pytest.mark.parametrize(("language", "gender"), sorted(PRONOUNS))
def test_pronouns(language: str, gender: str) -> None:
    content = body(
        text="{{ contact.pronoun }} {{ contact.possessive }} {{ contact.object_pronoun }}"
    )
    rendered = renderer(content).render(person(language, gender), LINKS)
    assert rendered.text.startswith(PRONOUNS[language, gender] + "\n")


def test_unknown_language_or_gender_gets_neutral_english_pronouns() -> None:
    content = body(text="{{ contact.pronoun }}")
    assert renderer(content).render(person("de", "x"), LINKS).text.startswith("they\n")


def test_contact_name_is_the_nickname_when_there_is_one() -> None:
    content = body(text="{{ contact.name }}|{{ contact }}|{{ contact.full_name }}")
    campaign = renderer(content)
    assert campaign.render(person(nickname="Ainoska"), LINKS).text.startswith(
        "Ainoska|Ainoska|Aino Virtanen\n"
    )
    assert campaign.render(person(), LINKS).text.startswith("Aino Virtanen|Aino Virtanen|")


def test_missing_optional_fields_print_nothing() -> None:
    content = body(text="[{{ contact.nickname }}][{{ contact.employer }}]")
    assert renderer(content).render(person(), LINKS).text.startswith("[][]\n")


def test_translation_is_chosen_by_the_recipients_language() -> None:
    campaign = renderer(GOOD, {"sv": SWEDISH})
    swedish = campaign.render(person("sv", nickname="Aina"), LINKS)
    assert (swedish.language, swedish.subject) == ("sv", "Aina, vårens erbjudanden")
    assert "Hej Aina!" in swedish.html
    assert "Hej Aina!" in swedish.text
    for language in ("fi", "en", "de"):
        fallback = campaign.render(person(language, nickname="Aina"), LINKS)
        assert (fallback.language, fallback.subject) == ("default", "Aina, kevään tarjoukset")


@pytest.mark.parametrize(
    ("language", "expected"), [*UNSUBSCRIBE_TEXT.items(), ("de", "Unsubscribe")]
)
def test_layout_speaks_the_recipients_language(language: str, expected: str) -> None:
    rendered = renderer(GOOD).render(person(language), ALL_LINKS)
    assert rendered.language == "default"
    assert f">{expected}</a>" in rendered.html
    assert f"{expected}: {LINKS.unsubscribe_url}" in rendered.text
    html_lang = language if language in UNSUBSCRIBE_TEXT else "en"
    assert f'<html lang="{html_lang}">' in rendered.html


@pytest.mark.parametrize("language", ["fi", "sv", "en"])
def test_every_message_names_the_controller_and_can_unsubscribe(language: str) -> None:
    rendered = renderer(GOOD, {"sv": SWEDISH}).render(person(language), LINKS)
    for part, name in (
        (rendered.html, "Smith &amp; Virtanen Oy"),
        (rendered.text, CONTROLLER.name),
    ):
        assert name in part
        assert CONTROLLER.business_id in part
        assert CONTROLLER.address in part
        assert CONTROLLER.privacy_contact in part
        assert LINKS.unsubscribe_url in part
        assert UNSUBSCRIBE_TEXT[language] in part
    assert f'<a href="{LINKS.unsubscribe_url}"' in rendered.html


def test_optional_links_and_the_pixel_appear_only_when_given() -> None:
    campaign = renderer()
    bare = campaign.render(person(), LINKS)
    full = campaign.render(person(), ALL_LINKS)
    assert "<img" not in bare.html
    assert f'<img src="{ALL_LINKS.open_pixel_url}"' in full.html
    assert str(ALL_LINKS.open_pixel_url) not in full.text
    for url in (ALL_LINKS.preferences_url, ALL_LINKS.stop_tracking_url):
        assert url is not None
        assert url not in bare.html
        assert url not in bare.text
        assert f'href="{url}"' in full.html
        assert url in full.text
    assert "Lopeta avausten ja klikkausten seuranta: " in full.text


def test_author_body_is_not_escaped_twice_by_the_layout() -> None:
    rendered = renderer(body(html='<p class="x">A &amp; B</p>')).render(person(), LINKS)
    assert '<p class="x">A &amp; B</p>' in rendered.html


def test_render_time_errors_name_the_field_and_line() -> None:
    source = "x\n{% if contact.city == 'Turku' %}{{ contact.nope }}{% endif %}"
    campaign = renderer(body(text=source))
    with pytest.raises(TemplateError) as caught:
        campaign.render(person(city="Turku"), LINKS)
    assert caught.value.problems == [
        TemplateProblem("body_text", 2, "'contact' has no attribute 'nope'")
    ]


def test_a_line_break_in_contact_data_cannot_reach_the_subject() -> None:
    campaign = renderer(body(subject="Hei {{ contact.full_name }}"))
    with pytest.raises(TemplateError):
        campaign.render(person(full_name="Aino\r\nBcc: x@example.fi"), LINKS)


def test_render_does_not_parse_templates(monkeypatch: pytest.MonkeyPatch) -> None:
    campaign = renderer(GOOD, {"sv": SWEDISH})

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a template was parsed during render")

    monkeypatch.setattr(jinja2.Environment, "_parse", refuse)
    for language in ("fi", "sv"):
        campaign.render(person(language), ALL_LINKS)


def test_controller_from_settings(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "CONSENTRY_VAR_DIR": str(tmp_path),
            "CONSENTRY_SECRET_KEY": "s" * 32,
            "CONSENTRY_DATA_KEY": "d" * 32,
            "CONSENTRY_CONTROLLER_NAME": "Acme Oy",
            "CONSENTRY_CONTROLLER_BUSINESS_ID": "7654321-0",
            "CONSENTRY_CONTROLLER_ADDRESS": "Katu 2, Oulu",
            "CONSENTRY_PRIVACY_CONTACT": "privacy@acme.fi",
        }
    )
    assert Controller.from_settings(settings) == Controller(
        "Acme Oy", "7654321-0", "Katu 2, Oulu", "privacy@acme.fi"
    )


def test_layouts_come_from_the_layout_dir(tmp_path: Path) -> None:
    shutil.copytree(DEFAULT_LAYOUT_DIR, tmp_path, dirs_exist_ok=True)
    layout = tmp_path / "_base.txt.j2"
    layout.write_text(layout.read_text() + "\nCUSTOM FOOTER")
    assert renderer(layout_dir=tmp_path).render(person(), LINKS).text.endswith("CUSTOM FOOTER")


def test_templates_dir_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (DEFAULT_LAYOUT_DIR / "_base.html.j2").is_file()
    monkeypatch.setenv("CONSENTRY_TEMPLATES_DIR", "/srv/consentry/templates")
    assert _default_layout_dir() == Path("/srv/consentry/templates/email")


# --- the MIME message -----------------------------------------------------------------

FINNISH = Rendered(
    language="default",
    subject="Hyvää kevättä, Äiti! Tarjoukset ovat täällä, älä jätä niitä väliin",
    html="<p>Hyvää päivää, Äiti! Säästä nyt.</p>",
    text="Hyvää päivää, Äiti!\nSäästä nyt.",
)
UNSUBSCRIBE_URL = "https://consentry.example.fi/u/" + "T" * 64


def build(rendered: Rendered = FINNISH, **overrides: object) -> bytes:
    arguments: dict[str, object] = {
        "mail_from": "Acme Oy <marketing@acme.fi>",
        "to": "aino@example.fi",
        "message_id": "<c7.r42@consentry.example.fi>",
        "list_id": "Kevät 2026 <c7.consentry.example.fi>",
        "unsubscribe_url": UNSUBSCRIBE_URL,
        "unsubscribe_mailto": "mailto:unsubscribe+TOKEN@consentry.example.fi",
    }
    arguments.update(overrides)
    return build_message(rendered, **arguments)  # type: ignore[arg-type]


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_message_headers() -> None:
    raw = build(extra_headers={"X-Campaign-Id": "7", "X-Note": "Kevät"})
    message = parse(raw)
    assert message["From"] == "Acme Oy <marketing@acme.fi>"
    assert message["To"] == "aino@example.fi"
    assert message["Subject"] == FINNISH.subject
    assert message["Message-ID"] == "<c7.r42@consentry.example.fi>"
    assert message["MIME-Version"] == "1.0"
    assert message["List-Id"] == "Kevät 2026 <c7.consentry.example.fi>"
    assert message["List-Unsubscribe"] == (
        f"<{UNSUBSCRIBE_URL}>, <mailto:unsubscribe+TOKEN@consentry.example.fi>"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Date"].datetime.utcoffset().total_seconds() == 0
    assert message["X-Campaign-Id"] == "7"
    assert message["X-Note"] == "Kevät"
    assert message.defects == []


def test_message_is_ascii_with_short_lines_and_an_encoded_subject() -> None:
    raw = build(to="Äiti Virtanen <aino@kärkkäinen.fi>")
    assert raw.isascii()
    assert all(len(line) <= 998 for line in raw.split(b"\n"))  # RFC 5322's hard limit
    headers = raw.split(b"\n\n", 1)[0].decode("ascii")
    # Folded into encoded words of a recommended line length.
    subject = headers[headers.index("Subject: ") : headers.index("\nDate: ")].split("\n")
    assert len(subject) > 1
    assert all(line.startswith(("Subject: =?utf-8?", " =?utf-8?")) for line in subject)
    assert all(len(line) <= 78 for line in subject)
    assert parse(raw)["To"] == "Äiti Virtanen <aino@xn--krkkinen-0zad.fi>"


def test_message_parts_round_trip_utf8() -> None:
    message = parse(build())
    assert message.get_content_type() == "multipart/alternative"
    text, html = message.iter_parts()
    assert [text.get_content_type(), html.get_content_type()] == ["text/plain", "text/html"]
    for part, content in ((text, FINNISH.text), (html, FINNISH.html)):
        assert isinstance(part, EmailMessage)
        assert part.get_content_charset() == "utf-8"
        assert part["Content-Transfer-Encoding"] == "quoted-printable"
        assert part["MIME-Version"] is None
        assert part.get_content() == content


def test_message_of_a_rendered_campaign() -> None:
    rendered = renderer(GOOD, {"sv": SWEDISH}).render(person("sv"), ALL_LINKS)
    text, html = parse(build(rendered)).iter_parts()
    assert isinstance(text, EmailMessage)
    assert isinstance(html, EmailMessage)
    assert text.get_content() == rendered.text
    assert html.get_content() == rendered.html
    assert "Avsluta prenumerationen" in text.get_content()


@pytest.mark.parametrize(
    "overrides",
    [
        {"rendered": Rendered("default", "Hei\r\nBcc: x@example.fi", "<p>x</p>", "x")},
        {"rendered": Rendered("default", "Hei\nBcc: x@example.fi", "<p>x</p>", "x")},
        {"rendered": Rendered("default", "Hei\rBcc: x@example.fi", "<p>x</p>", "x")},
        {"to": "aino@example.fi\r\nBcc: x@example.fi"},
        {"mail_from": "a@example.fi\nBcc: x@example.fi"},
        {"message_id": "<a@b>\r\nBcc: x@example.fi"},
        {"list_id": "x\nBcc: x@example.fi"},
        {"unsubscribe_url": "https://x/u/t>\r\nBcc: x@example.fi"},
        {"extra_headers": {"X-Note": "x\r\nBcc: x@example.fi"}},
        {"extra_headers": {"X-Note\r\nBcc": "x"}},
        {"extra_headers": {"Subject": "again"}},
        {"message_id": "no-brackets@example.fi"},
    ],
)
def test_message_refuses_header_injection(overrides: dict[str, object]) -> None:
    rendered = overrides.pop("rendered", FINNISH)
    assert isinstance(rendered, Rendered)
    with pytest.raises(ValueError):  # noqa: PT011 (each case has its own message)
        build(rendered, **overrides)


def test_many_messages_render_and_build() -> None:
    campaign = renderer(GOOD, {"sv": SWEDISH})
    genders = ("female", "male", "other", "unspecified")
    for number in range(2000):
        recipient = person(("fi", "sv", "en")[number % 3], genders[number % 4])
        rendered = campaign.render(recipient, ALL_LINKS)
        raw = build(rendered, message_id=f"<c7.r{number}@consentry.example.fi>")
        assert raw
