"""Words for codes (service.labels): every member of the register's enums
has a label, and the staff pages' ``|label`` filter shows it."""

from __future__ import annotations

import inspect
from enum import StrEnum

import jinja2
import pytest

from service import i18n, labels
from service.models import enums
from service.models.audit import AuditActor
from service.models.engagement import EngagementKind
from service.models.enums import Purpose, Reason, Role

ENUMS = sorted(
    {
        value
        for value in vars(enums).values()
        if inspect.isclass(value) and issubclass(value, StrEnum) and value is not StrEnum
    }
    | {AuditActor, EngagementKind},
    key=lambda kind: kind.__name__,
)


@pytest.mark.parametrize("kind", ENUMS, ids=lambda kind: kind.__name__)
def test_every_member_has_a_label(kind: type[StrEnum]) -> None:
    missing = [member.value for member in kind if labels.english(kind, member) is None]
    assert missing == [], f"add words for {kind.__name__} {missing} to service/labels.py"


@pytest.mark.parametrize("kind", ENUMS, ids=lambda kind: kind.__name__)
def test_labels_are_words_not_codes(kind: type[StrEnum]) -> None:
    for member in kind:
        words = labels.english(kind, member)
        assert words is not None
        assert "_" not in words, (kind.__name__, member.value, words)
        assert words[0].isupper(), (kind.__name__, member.value, words)


def test_no_label_names_a_code_of_another_enum() -> None:
    """Every labelled code is a member of its enum: no stale entries."""
    for kind, words in labels.LABELS.items():
        assert set(words) <= {member.value for member in kind}, kind.__name__


def test_a_label_by_enum_or_by_name() -> None:
    with i18n.use("en"):
        assert i18n.label(Purpose, Purpose.DIRECT_MARKETING) == "Direct marketing"
        assert i18n.label("Purpose", "direct_marketing") == "Direct marketing"
        assert i18n.label("Role", "privacy_officer") == "Privacy officer"
        # An unknown code or enum is shown as it is, never an error.
        assert i18n.label("Purpose", "no_such_code") == "no_such_code"
        assert i18n.label("NoSuchEnum", "x") == "x"
        assert i18n.label("Purpose", None) == ""


def test_the_label_filter_and_global() -> None:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    i18n.install(env)
    template = env.from_string(
        "{{ reason|label }} · {{ code|label('Role') }} · {{ label('Reason', 'no_address') }}"
        " · {{ nothing|label }}"
    )
    with i18n.use("en"):
        rendered = template.render(reason=Reason.ROBINSON_LISTED, code="admin", nothing=None)
    assert rendered == "On the Robinson register · Administrator · No address · "


def test_a_label_is_translated_when_shown() -> None:
    """The table holds English; the language of the moment picks the words."""
    role = labels.english(Role, Role.MARKETER)
    assert role == "Marketer"
    with i18n.use("fi"):
        finnish = i18n.label(Role, Role.MARKETER)
    with i18n.use("en"):
        english = i18n.label(Role, Role.MARKETER)
    assert english == "Marketer"
    assert finnish == i18n.translations("fi").gettext("Marketer")
