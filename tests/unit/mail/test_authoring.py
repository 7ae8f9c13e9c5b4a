"""Compiling layouts, Markdown, inlining, the text part and the pixel rule."""

from __future__ import annotations

import pytest

from service.campaigns.layouts import default_mjml
from service.mail.authoring import (
    FEW_WORDS,
    AuthoringError,
    compile_layout,
    compose,
    pixel_dominates,
)


def test_the_default_layout_is_responsive_and_takes_a_body() -> None:
    html = compile_layout(default_mjml())
    assert "@media" in html and "{{ content }}" in html
    assert "fonts.googleapis" not in html  # no web font is linked


def test_a_body_in_a_layout_gets_its_styles_inline_and_keeps_its_template_tags() -> None:
    composed = compose(
        body="# Hi {{ contact.name }}\n\n{% if contact.city %}In {{ contact.city }}{% endif %}",
        markdown=True,
        layout_html=compile_layout(default_mjml()),
    )
    assert '<h1 style="font-size: 26px;' in composed.html
    assert "Hi {{ contact.name }}</h1>" in composed.html
    assert "{% if contact.city %}In {{ contact.city }}{% endif %}" in composed.html
    assert composed.text.startswith("Hi {{ contact.name }}\n")


def test_template_tags_between_table_rows_stay_in_place() -> None:
    composed = compose(
        body="<table>{% if contact.city %}<tr><td>x</td></tr>{% endif %}</table>",
        markdown=False,
        layout_html=compile_layout(default_mjml()),
    )
    body = composed.html.index(">x</td>")
    assert composed.html.index("{% if contact.city %}") < body < composed.html.index("{% endif")
    # Not moved before the body's table, as bare text inside a table would be.
    assert composed.html.index("{% if contact.city %}") > composed.html.rindex("<table", 0, body)


def test_an_unquoted_attribute_tag_is_refused_not_garbled() -> None:
    with pytest.raises(AuthoringError):
        compose(
            body="<table><tr><td class={{ contact.city }}>x</td></tr></table>",
            markdown=False,
            layout_html=compile_layout(default_mjml()),
        )


@pytest.mark.parametrize(
    ("body", "dominates"),
    [
        ('<p>Sale!</p><img src="https://x.example/a.png" alt="">', True),
        ("<p>" + "word " * FEW_WORDS + '</p><img src="https://x.example/a.png" alt="">', False),
        ("<p>Short and no image.</p>", False),
        ('<img src="a.png"><img src="b.png">', True),
    ],
)
def test_the_open_pixel_dominates_a_short_image_heavy_message(body: str, dominates: bool) -> None:
    assert pixel_dominates(body) is dominates
