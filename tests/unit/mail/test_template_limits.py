"""Templates are bounded: CPU time and output size at check and render time,
runaway arithmetic and string building refused early, no memory address in
what a template prints."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from service.mail.render import (
    CampaignRenderer,
    Content,
    Controller,
    Links,
    TemplateError,
    TemplateLimitExceeded,
    TemplateProblem,
    check_templates,
)
from service.mail.sandbox import Limits
from service.mail.views import Recipient
from service.settings import SettingsError, load_settings

CONTROLLER = Controller("Acme Oy", "1234567-8", "Katu 1, Helsinki", "privacy@acme.fi")
LINKS = Links(unsubscribe_url="https://consentry.example.fi/u/TOKEN")
NESTED_LOOPS = "{% for a in range(99999) %}{% for b in range(99999) %}{% endfor %}{% endfor %}"
FAST = Limits(cpu_seconds=0.3)
ADDRESS = re.compile(r"0x[0-9a-fA-F]{4,}")


def body(text: str = "x", html: str = "<p>x</p>", subject: str = "Hei") -> Content:
    return Content(subject=subject, body_html=html, body_text=text)


def only(problems: list[TemplateProblem]) -> TemplateProblem:
    assert len(problems) == 1, problems
    return problems[0]


def renderer(content: Content, limits: Limits = FAST) -> CampaignRenderer:
    return CampaignRenderer(
        campaign_id=1,
        campaign_name="Kevät",
        default=content,
        translations={},
        controller=CONTROLLER,
        limits=limits,
    )


def test_nested_loops_are_refused_at_the_default_cpu_limit() -> None:
    started = time.thread_time()
    problem = only(check_templates(body(text=NESTED_LOOPS), {}))
    spent = time.thread_time() - started
    assert problem.field == "body_text"
    assert "more than 2 s of CPU time" in problem.message
    assert "CONSENTRY_TEMPLATE_CPU_SECONDS" in problem.message
    assert 1.9 < spent < 2.6  # the whole check, every sample recipient, within the limit


def test_the_cpu_limit_comes_from_the_limits() -> None:
    started = time.thread_time()
    problem = only(check_templates(body(html=f"<p>\n{NESTED_LOOPS}</p>"), {}, FAST))
    assert time.thread_time() - started < 0.6
    assert (problem.field, problem.line) == ("body_html", 2)
    assert "more than 0.3 s of CPU time" in problem.message


def test_output_over_the_size_cap_is_refused_naming_it() -> None:
    huge = "{% for i in range(2000) %}{{ 'x' * 1000 }}{% endfor %}"  # 2 MB
    problem = only(check_templates(body(text=huge), {}))
    assert problem.field == "body_text"
    assert problem.message == (
        "the rendered message is larger than 1 MB (limit: CONSENTRY_TEMPLATE_MAX_BYTES)"
    )
    endless = "{% for i in range(99999) %}{{ 'x' * 1000 }}{% endfor %}"
    problem = only(check_templates(body(text=endless), {}))
    assert "a message may be at most 1 MB (limit: CONSENTRY_TEMPLATE_MAX_BYTES)" in problem.message
    small = Limits(max_bytes=10_000)
    twelve_kb = "{{ 'x' * 6000 }}{{ 'x' * 6000 }}"
    assert "larger than 10 kB" in only(check_templates(body(text=twelve_kb), {}, small)).message
    assert check_templates(body(text=twelve_kb), {}) == []


def test_the_size_cap_counts_bytes_of_the_whole_message() -> None:
    limits = Limits(max_bytes=20_000)
    ascii_half = "{% for i in range(2) %}{{ 'a' * 7000 }}{% endfor %}"  # 14 kB
    assert check_templates(body(text=ascii_half), {}, limits) == []
    # The same in two-byte characters: 28 kB.
    two_byte = "{% for i in range(2) %}{{ 'ä' * 7000 }}{% endfor %}"
    assert "larger than 20 kB" in only(check_templates(body(text=two_byte), {}, limits)).message
    both = check_templates(
        body(html=ascii_half, text=ascii_half.replace("7000", "4000")), {}, limits
    )
    assert "larger than 20 kB" in only(both).message  # 14 + 8 kB: the message, not each part


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'x' * 10 ** 9 }}",
        "{{ 9 ** 9 ** 9 }}",
        "{{ 'x' * 1000000000 }}",
        "{% set ns = namespace(n=10) %}{% for i in range(40) %}{% set ns.n = ns.n * ns.n %}"
        "{% endfor %}{{ ns.n }}",
        "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}"
        "{% endfor %}{{ ns.s }}",
        "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}"
        "{% endfor %}{{ ns.s }}",
        "{% set big = 'x' * 10000 %}{% set y %}{% for i in range(100000) %}{{ big }}"
        "{% endfor %}{% endset %}{{ y|length }}",
        "{% set y %}{% for i in range(100000) %}" + "x" * 1000 + "{% endfor %}{% endset %}",
        "{{ range(99999)|map('center', 99999)|join }}",
        "{{ range(100000)|join('x' * 10000) }}",
        "{{ ('x' * 10000)|replace('x', 'x' * 10000) }}",
        "{{ ('\\n' * 10000)|indent(10000) }}",
        "{{ 'a'.ljust(999999999) }}",
        "{{ 'a'.center(999999999) }}",
        "{{ ('\\t' * 10000).expandtabs(10000) }}",
        "{{ '{:>999999999}'.format(1) }}",
        "{{ '%0999999999d' % 1 }}",
        "{{ '%*d' % (999999999, 1) }}",
        "{{ '%0999999999d'|format(1) }}",
        "{{ [1]|slice(1000000000)|list|length }}",
        "{{ [1]|batch(1000000000, 0)|list|length }}",
        "{{ (1).to_bytes(1000000000, 'big')|length }}",
        "{{ range(100000)|batch(1)|sum(start=[])|length }}",
        "{{ lipsum(1000000) }}",
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}x{% endmacro %}"
        "{{ f(40) }}",
        "{% set l = [1] %}{% for i in range(64) %}{{ l.extend(l) }}{% endfor %}",
    ],
)
def test_runaway_templates_are_refused_quickly(source: str) -> None:
    started = time.thread_time()
    problem = only(check_templates(body(text=source), {}, Limits(cpu_seconds=1)))
    assert time.thread_time() - started < 1.2
    assert problem.field == "body_text"


def test_a_limit_on_a_path_the_samples_missed_stops_the_render() -> None:
    heavy = "{% if contact.city == 'Turku' %}\n" + NESTED_LOOPS + "{% endif %}"
    campaign = renderer(body(html=heavy))  # the sample recipients live in Oulu
    assert campaign.render(Recipient("Aino V", None, "fi", "female", city="Oulu"), LINKS)
    turku = Recipient("Aino V", None, "fi", "female", city="Turku")
    started = time.thread_time()
    with pytest.raises(TemplateLimitExceeded) as caught:
        campaign.render(turku, LINKS)
    assert time.thread_time() - started < 0.5
    assert isinstance(caught.value, TemplateError)
    problem = only(caught.value.problems)
    assert (problem.field, problem.line) == ("body_html", 2)
    assert "CONSENTRY_TEMPLATE_CPU_SECONDS" in problem.message
    huge = (
        "{% if contact.city == 'Turku' %}{% for i in range(300) %}{{ 'x' * 9000 }}{% endfor %}"
        "{% endif %}"
    )
    with pytest.raises(TemplateLimitExceeded, match="CONSENTRY_TEMPLATE_MAX_BYTES"):
        renderer(body(text=huge), Limits(max_bytes=1_000_000)).render(turku, LINKS)


def test_the_renderer_refuses_a_campaign_over_a_limit() -> None:
    with pytest.raises(TemplateLimitExceeded) as caught:
        renderer(body(subject=NESTED_LOOPS + "Hei"))
    assert only(caught.value.problems).field == "subject"


def test_ordinary_templates_still_work() -> None:
    source = (
        "{% macro item(n) %}<{{ n }}>{% endmacro %}"
        "{% for i in range(3) %}{{ loop.index }}{{ item(i) }}{{ loop.cycle('a', 'b') }}"
        "{% endfor %}|"
        "{{ ['x', 'y']|join(', ') }}|{{ contact.name|upper }}|{{ '%s-%03d' % ('n', 7) }}|"
        "{{ '{}!'.format(contact.name) }}|{{ 'a' ~ 1 ~ none }}|{{ [1, (2, 'b')] }}|"
        "{{ dict(a=1) }}|{{ range(3)|map('string')|join }}|{{ (1, 2)|sum }}|{{ 'x' * 3 }}|"
        "{% set ns = namespace(total=0) %}{% for i in range(4) %}{% set ns.total = ns.total + i %}"
        "{% endfor %}{{ ns.total }}|{{ 'Ab'|center(6) }}|{{ contact.employer }}"
    )
    rendered = renderer(body(text=source)).render(
        Recipient("Aino V", "Aino", "fi", "female"), LINKS
    )
    assert rendered.text.startswith(
        "1<0>a2<1>b3<2>a|x, y|AINO|n-007|Aino!|a1None|[1, (2, 'b')]|{'a': 1}|012|3|xxx|6|  Ab  |\n"
    )


LEAKY = [
    "{{ range }}",
    "{{ lipsum }}",
    "{{ cycler }}",
    "{{ joiner }}",
    "{{ cycler(1) }}",
    "{{ joiner() }}",
    "{{ namespace() }}",
    "{{ namespace }}",
    "{% for i in [1] %}{{ loop }}{{ loop.cycle }}{% endfor %}",
    "{{ contact.full_name.upper }}",
    "{{ range|string }}",
    "{{ (range|string)[20:] }}",
    "{{ (joiner()|string)[20:] }}",
    "{{ joiner()|string|replace('at', '') }}",
    "{{ cycler(1) ~ '' }}",
    "{{ '%s' % joiner() }}",
    "{{ '%r' % (joiner(),) }}",
    "{{ '{}'.format(joiner()) }}",
    "{{ '{0!r}'.format(joiner()) }}",
    "{{ '{a}'.format_map(dict(a=joiner())) }}",
    "{{ [joiner()]|string }}",
    "{{ dict(a=joiner())|pprint }}",
    "{{ [joiner()]|join }}",
    "{{ ['a']|join(attribute='upper') }}",
    "{{ [1, 2]|map('string') }}",
    "{{ [1, 2]|reverse }}",
    "{{ joiner()|e }}",
    "{{ {'a': joiner()}|xmlattr }}",
    "{{ 'abc'.upper }}",
    "{{ 'a' ~ 'abc'.upper }}",
    "{{ ('a' ~ 'abc'.upper)[25:] }}",
    "{{ [1]|reverse if true }}",
]


@pytest.mark.parametrize("source", LEAKY)
def test_no_memory_address_is_ever_printed(source: str) -> None:
    problems = check_templates(body(text=source, html=source), {})
    for problem in problems:
        assert not ADDRESS.search(problem.message), problem
    if problems:  # refused at save, with a message that says why
        assert {p.field for p in problems} == {"body_text", "body_html"}
        return
    rendered = renderer(body(text=source, html=source)).render(
        Recipient("Aino V", None, "fi", "female"), LINKS
    )
    assert not ADDRESS.search(rendered.text + rendered.html), rendered.text


def test_printing_a_function_is_refused_with_a_reason() -> None:
    problem = only(check_templates(body(text="{{ contact.full_name.upper }}"), {}))
    assert "cannot be printed; call it with ()" in problem.message
    problem = only(check_templates(body(text="{{ [1, 2]|map('string') }}"), {}))
    assert "add |list or |join" in problem.message


def test_template_settings_have_defaults_and_bounds(tmp_path: Path) -> None:
    base = {
        "CONSENTRY_VAR_DIR": str(tmp_path),
        "CONSENTRY_SECRET_KEY": "s" * 32,
        "CONSENTRY_DATA_KEY": "d" * 32,
    }
    settings = load_settings(base)
    assert Limits.from_settings(settings) == Limits(cpu_seconds=2, max_bytes=1_000_000)
    tuned = load_settings(
        {**base, "CONSENTRY_TEMPLATE_CPU_SECONDS": "1", "CONSENTRY_TEMPLATE_MAX_BYTES": "50000"}
    )
    assert Limits.from_settings(tuned) == Limits(cpu_seconds=1, max_bytes=50_000)
    for name, value in (("TEMPLATE_CPU_SECONDS", "0"), ("TEMPLATE_MAX_BYTES", "1k")):
        with pytest.raises(SettingsError, match=f"CONSENTRY_{name}"):
            load_settings({**base, f"CONSENTRY_{name}": value})
