"""service.web.messages: each pydantic error type a staff page may show is
said in Finnish with its numbers and choices filled in, and in English exactly
as pydantic says it; our validators' and services' messages come out
translated; a message the catalog does not know is shown as it is."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

import pytest
from pydantic import AnyUrl, BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import ErrorDetails, InitErrorDetails

from service import i18n
from service.errors import InvalidInput
from service.labels import N_
from service.web import messages


class Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


class Everything(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str | None = None
    short: Annotated[str, Field(min_length=3)] | None = None
    one: Annotated[str, Field(min_length=1)] | None = None
    long: Annotated[str, Field(max_length=5)] | None = None
    integer: int | None = None
    number: float | None = None
    flag: bool | None = None
    above: Annotated[int, Field(gt=2)] | None = None
    from_: Annotated[int, Field(ge=2)] | None = None
    below: Annotated[int, Field(lt=9)] | None = None
    up_to: Annotated[int, Field(le=9)] | None = None
    few: Annotated[list[int], Field(min_length=2)] | None = None
    some: Annotated[list[int], Field(min_length=1)] | None = None
    many: Annotated[list[int], Field(max_length=2)] | None = None
    colour: Colour | None = None
    choice: Literal["a", "b"] | None = None
    day: date | None = None
    moment: datetime | None = None
    link: AnyUrl | None = None
    checked: str | None = None

    @field_validator("checked")
    @classmethod
    def _checked(cls, value: str) -> str:
        if value == "future":
            raise ValueError(N_("must not be in the future"))
        raise ValueError(f"not known: {len(value)}")


class Required(BaseModel):
    name: str


def _error(model: type[BaseModel], data: Any, *, json: bool = False) -> ErrorDetails:
    validate = model.model_validate_json if json else model.model_validate
    with pytest.raises(ValidationError) as caught:
        validate(data)
    (error,) = caught.value.errors()
    return error


class Made(BaseModel):
    """Stands for a model whose error pydantic raises itself (``Made`` reads
    ``data`` as the error to raise: its type and ctx, with pydantic's words)."""

    @classmethod
    def model_validate(cls, obj: Any, **_: Any) -> Made:
        kind, ctx = obj
        raise ValidationError.from_exception_data(
            "Made", [InitErrorDetails(type=kind, loc=("day",), input="x", ctx=ctx)]
        )


CASES: list[tuple[str, type[BaseModel], Any, str, str]] = [
    ("missing", Required, {}, "Pakollinen kenttä", "Obligatoriskt fält"),
    ("string_too_short", Everything, {"short": "ab"}, "Vähintään 3 merkkiä", "Minst 3 tecken"),
    ("string_too_short", Everything, {"one": ""}, "Ei saa olla tyhjä", "Får inte vara tomt"),
    ("string_too_long", Everything, {"long": "abcdef"}, "Enintään 5 merkkiä", "Högst 5 tecken"),
    ("string_type", Everything, {"text": 5}, "Anna teksti", "Ange en text"),
    ("int_parsing", Everything, {"integer": "x"}, "Anna kokonaisluku", "Ange ett heltal"),
    ("int_type", Everything, {"integer": [1]}, "Anna kokonaisluku", "Ange ett heltal"),
    ("float_parsing", Everything, {"number": "x"}, "Anna luku", "Ange ett tal"),
    ("bool_parsing", Everything, {"flag": "maybe"}, "Anna kyllä tai ei", "Ange ja eller nej"),
    (
        "greater_than",
        Everything,
        {"above": 1},
        "Arvon on oltava suurempi kuin 2",
        "Värdet måste vara större än 2",
    ),
    (
        "greater_than_equal",
        Everything,
        {"from_": 1},
        "Arvon on oltava vähintään 2",
        "Värdet måste vara minst 2",
    ),
    (
        "less_than",
        Everything,
        {"below": 10},
        "Arvon on oltava pienempi kuin 9",
        "Värdet måste vara mindre än 9",
    ),
    (
        "less_than_equal",
        Everything,
        {"up_to": 10},
        "Arvon on oltava enintään 9",
        "Värdet får vara högst 9",
    ),
    ("too_short", Everything, {"few": [1]}, "Vähintään 2 kohdetta", "Minst 2 poster"),
    ("too_short", Everything, {"some": []}, "Valitse vähintään yksi", "Välj minst ett"),
    ("too_long", Everything, {"many": [1, 2, 3]}, "Enintään 2 kohdetta", "Högst 2 poster"),
    (
        "enum",
        Everything,
        {"colour": "green"},
        "Sallitut arvot: 'red' or 'blue'",
        "Tillåtna värden: 'red' or 'blue'",
    ),
    (
        "literal_error",
        Everything,
        {"choice": "c"},
        "Sallitut arvot: 'a' or 'b'",
        "Tillåtna värden: 'a' or 'b'",
    ),
    (
        "date_parsing",
        Made,
        ("date_parsing", {"error": "input is too short"}),
        "Anna päivämäärä muodossa VVVV-KK-PP",
        "Ange ett datum i formen ÅÅÅÅ-MM-DD",
    ),
    (
        "date_from_datetime_parsing",
        Everything,
        {"day": "31.12."},
        "Anna päivämäärä muodossa VVVV-KK-PP",
        "Ange ett datum i formen ÅÅÅÅ-MM-DD",
    ),
    (
        "datetime_parsing",
        Made,
        ("datetime_parsing", {"error": "invalid character"}),
        "Anna kelvollinen päivämäärä ja kellonaika",
        "Ange ett giltigt datum och klockslag",
    ),
    (
        "url_parsing",
        Everything,
        {"link": "not a url"},
        "Anna kelvollinen verkko-osoite",
        "Ange en giltig webbadress",
    ),
    (
        "extra_forbidden",
        Everything,
        {"other": 1},
        "Ylimääräiset kentät eivät ole sallittuja",
        "Extra fält är inte tillåtna",
    ),
    (
        "datetime_from_date_parsing",
        Everything,
        {"moment": "2026-12-01T25:00"},
        "Anna kelvollinen päivämäärä ja kellonaika",
        "Ange ett giltigt datum och klockslag",
    ),
    (
        "value_error",
        Everything,
        {"checked": "future"},
        "ei saa olla tulevaisuudessa",
        "får inte ligga i framtiden",
    ),
]


@pytest.mark.parametrize(("kind", "model", "data", "finnish", "swedish"), CASES)
def test_each_error_type_is_said_in_the_members_language(
    kind: str, model: type[BaseModel], data: Any, finnish: str, swedish: str
) -> None:
    error = _error(model, data)
    assert error["type"] == kind
    with i18n.use("fi"):
        assert messages.error_text(error) == finnish
    with i18n.use("sv"):
        assert messages.error_text(error) == swedish
    with i18n.use("en"):  # English: pydantic's own words, as before
        assert messages.error_text(error) == str(error["msg"]).removeprefix("Value error, ")


def test_invalid_json_is_said_in_finnish() -> None:
    error = _error(Required, "{", json=True)
    assert error["type"] == "json_invalid"
    with i18n.use("fi"):
        assert messages.error_text(error) == "Virheellinen JSON"
    with i18n.use("en"):
        assert messages.error_text(error) == error["msg"]


def test_a_message_the_catalog_does_not_know_is_shown_as_it_is() -> None:
    error = _error(Everything, {"checked": "abc"})
    with i18n.use("fi"):
        assert messages.error_text(error) == "not known: 3"
    unlisted = _error(Made, ("uuid_parsing", {"error": "invalid length"}))
    with i18n.use("fi"):
        assert messages.error_text(unlisted) == unlisted["msg"]


def test_the_rejected_value_is_never_part_of_the_message() -> None:
    error = _error(Everything, {"integer": "040 1234567"})
    for lang in i18n.LANGUAGES:
        with i18n.use(lang):
            assert "1234567" not in messages.error_text(error)


def test_field_errors_key_join_and_missing() -> None:
    with pytest.raises(ValidationError) as caught:
        Everything.model_validate({"long": "abcdefg", "few": [1], "other": 2})
    with i18n.use("fi"):
        found = messages.field_errors(caught.value, whole="form")
    assert found == {
        "long": "Enintään 5 merkkiä",
        "few": "Vähintään 2 kohdetta",
        "other": "Ylimääräiset kentät eivät ole sallittuja",
    }
    with pytest.raises(ValidationError) as caught:
        Required.model_validate({})
    with i18n.use("fi"):
        assert messages.field_errors(caught.value, missing=N_("required")) == {"name": "pakollinen"}
    with i18n.use("en"):
        assert messages.field_errors(caught.value) == {"name": "Field required"}


def test_a_services_refusal_is_translated_where_the_catalog_knows_it() -> None:
    refusal = InvalidInput(
        "a request is closed as done or refused",
        fields={"status": "must be done or refused", "other": "no such thing 7"},
    )
    with i18n.use("fi"):
        assert messages.refusal(refusal) == "pyyntö suljetaan hoidettuna tai hylättynä"
        assert messages.problems(refusal) == {
            "status": "oltava hoidettu tai hylätty",
            "other": "no such thing 7",
        }
    with i18n.use("en"):
        assert messages.refusal(refusal) == "a request is closed as done or refused"
    assert messages.problems(InvalidInput("x")) == {"": "x"}
    assert messages.words("") == ""


def test_the_words_filter_translates_a_note_and_escapes_what_it_does_not_know() -> None:
    from service.web.render import _pages

    shown = _pages.from_string("{{ note|words }}")
    with i18n.use("fi"):
        assert (
            shown.render(note="the person forbade the transfer: destroyed, not handed over")
            == "henkilö kielsi siirron: hävitetään, ei luovuteta"
        )
        assert shown.render(note="<b>%(x)s</b>") == "&lt;b&gt;%(x)s&lt;/b&gt;"
