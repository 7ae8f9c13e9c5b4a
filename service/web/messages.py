"""Messages written below the web layer, in the staff pages' language.

Pydantic writes its complaints in English ("Field required") and the
services write theirs in English for the API and the command line
(``InvalidInput("no contact with id 7")``). A staff page shows them through
this module, which translates them in the language of the moment:

- a pydantic error item by its ``type`` (``TYPES``: English templates with
  the error's ``ctx`` as ``%(name)s`` placeholders); a ``value_error`` by
  its own message, which our validators raise marked ``N_()``;
- a service's message (``DomainError.detail``, its ``fields``, an import
  line's problem) through the catalog, when the catalog knows it.

A message the catalog does not know (one built with an f-string, a
pydantic type not in ``TYPES``), and every message for an English member,
is shown exactly as it was written: English pages read as before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from service import i18n
from service.errors import DomainError
from service.imports.schemas import RowNote, RowProblem
from service.labels import N_

VALUE_ERROR = "Value error, "

# Pydantic's error types, each with its English words; the ``%(name)s``
# placeholders are filled from the error's ``ctx``.
TYPES: dict[str, str] = {
    "missing": N_("Field required"),
    "string_too_short": N_("String should have at least %(min_length)s characters"),
    "string_too_long": N_("String should have at most %(max_length)s characters"),
    "string_type": N_("Input should be a valid string"),
    "int_parsing": N_("Input should be a valid integer"),
    "int_type": N_("Input should be a valid integer"),
    "int_from_float": N_("Input should be a valid integer"),
    "float_parsing": N_("Input should be a valid number"),
    "float_type": N_("Input should be a valid number"),
    "bool_parsing": N_("Input should be a valid boolean"),
    "bool_type": N_("Input should be a valid boolean"),
    "greater_than": N_("Input should be greater than %(gt)s"),
    "greater_than_equal": N_("Input should be greater than or equal to %(ge)s"),
    "less_than": N_("Input should be less than %(lt)s"),
    "less_than_equal": N_("Input should be less than or equal to %(le)s"),
    "too_short": N_("Should have at least %(min_length)s items"),
    "too_long": N_("Should have at most %(max_length)s items"),
    "enum": N_("Input should be %(expected)s"),
    "literal_error": N_("Input should be %(expected)s"),
    "date_parsing": N_("Input should be a valid date in the format YYYY-MM-DD"),
    "date_type": N_("Input should be a valid date in the format YYYY-MM-DD"),
    "date_from_datetime_parsing": N_("Input should be a valid date in the format YYYY-MM-DD"),
    "datetime_parsing": N_("Input should be a valid date and time"),
    "datetime_type": N_("Input should be a valid date and time"),
    "datetime_from_date_parsing": N_("Input should be a valid date and time"),
    "url_parsing": N_("Input should be a valid URL"),
    "url_type": N_("Input should be a valid URL"),
    "url_scheme": N_("URL scheme should be %(expected_schemes)s"),
    "json_invalid": N_("Invalid JSON"),
    "extra_forbidden": N_("Extra inputs are not permitted"),
}
# A minimum of one is said as a rule of its own ("must not be empty"), not as a count.
AT_LEAST_ONE: dict[str, str] = {
    "string_too_short": N_("String should have at least 1 character"),
    "too_short": N_("Should have at least 1 item"),
}


def words(message: str) -> str:
    """A service's English message in the language of the moment: its
    translation when the catalog has one, else the message as it is."""
    return i18n.gettext(message) if message else message


def row_words(problem: RowProblem | RowNote) -> str:
    """An import line's problem or note in the language of the moment: a
    schema's complaint by its pydantic type, a message with numbers by its
    template, any other through the catalog."""
    if isinstance(problem, RowNote):
        return words(problem.message)
    if problem.error is not None:
        return error_text(cast(ErrorDetails, problem.error))
    if problem.template:
        translated = i18n.gettext(problem.template)
        if translated != problem.template:
            try:
                return translated % problem.values
            except (KeyError, ValueError, TypeError):
                pass
        return problem.message
    return words(problem.message)


def error_text(error: ErrorDetails) -> str:
    """One pydantic error item in the language of the moment. Never the
    rejected value (it may be someone's words about themselves)."""
    english = str(error["msg"]).removeprefix(VALUE_ERROR)
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    if error["type"] == "value_error":
        return words(str(ctx.get("error", english)))
    template = TYPES.get(error["type"])
    if str(ctx.get("min_length")) == "1":
        template = AT_LEAST_ONE.get(error["type"], template)
    if template is None:
        return english
    translated = i18n.gettext(template)
    if translated == template:  # English, or not in the catalog: pydantic's own words
        return english
    try:
        return translated % {name: str(value) for name, value in ctx.items()}
    except (KeyError, ValueError, TypeError):
        return english


def _dotted(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


def field_errors(
    exc: ValidationError,
    *,
    key: Callable[[tuple[int | str, ...]], str] = _dotted,
    whole: str = "",
    join: bool = False,
    missing: str | None = None,
) -> dict[str, str]:
    """A schema's complaints keyed by form field: ``key`` turns an error's
    location into the field's name (``whole`` when it names none). Two
    complaints about one field are joined with "; " when ``join``, else the
    first is kept. ``missing`` (marked ``N_``) replaces "Field required"."""
    found: dict[str, str] = {}
    for error in exc.errors(include_input=False, include_url=False):
        name = key(error["loc"]) or whole
        if missing is not None and error["type"] == "missing":
            message = i18n.gettext(missing)
        else:
            message = error_text(error)
        if name in found:
            if join:
                found[name] = f"{found[name]}; {message}"
        else:
            found[name] = message
    return found


def refusal(exc: DomainError) -> str:
    """A refusal's detail in the language of the moment."""
    return words(exc.detail)


def refusal_fields(exc: DomainError) -> dict[str, str]:
    """A refusal's per-field messages in the language of the moment."""
    return {name: words(message) for name, message in (exc.fields or {}).items()}


def problems(exc: DomainError, *, whole: str = "") -> dict[str, str]:
    """A refusal as form errors: its fields, else its detail under ``whole``."""
    return refusal_fields(exc) or {whole: refusal(exc)}
