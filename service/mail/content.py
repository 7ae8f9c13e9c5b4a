"""What rendering a campaign message takes and gives: the marketer's content,
the controller and the links that go around it, the rendered message, or the
problems found in its templates.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from service.settings import Settings

# Anything that ends a line somewhere. CR and LF would start a new header (header
# injection); the rest are line breaks to str.splitlines(), which email.header
# uses when it folds, so compat32 would fold there or fail while writing the message.
HEADER_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")


@dataclass(frozen=True, slots=True)
class Content:
    """One language version of a campaign, as a marketer wrote it."""

    subject: str
    body_html: str
    body_text: str


@dataclass(frozen=True, slots=True)
class Controller:
    """The data controller, named in every email."""

    name: str
    business_id: str
    address: str
    privacy_contact: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Controller:
        return cls(
            name=settings.controller_name,
            business_id=settings.controller_business_id,
            address=settings.controller_address,
            privacy_contact=settings.privacy_contact,
        )


@dataclass(frozen=True, slots=True)
class Links:
    """Per-message URLs with signed tokens, made by the caller; authors never write these."""

    unsubscribe_url: str
    preferences_url: str | None = None
    stop_tracking_url: str | None = None
    open_pixel_url: str | None = None
    # Given, the body's trackable links (``trackable_links``) are replaced by
    # what it returns for each link's index; without it links stay as written.
    click_url: Callable[[int], str] | None = None


@dataclass(frozen=True, slots=True)
class Rendered:
    language: str  # the translation used, or "default"
    subject: str
    html: str
    text: str


@dataclass(frozen=True, slots=True)
class TemplateProblem:
    field: str  # "subject", "body_html", "translations.sv.body_text", ...
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.field if self.line is None else f"{self.field}, line {self.line}"
        return f"{where}: {self.message}"


class TemplateError(Exception):
    """A campaign's templates cannot be rendered; `problems` says where and why."""

    def __init__(self, problems: list[TemplateProblem]) -> None:
        super().__init__("; ".join(str(problem) for problem in problems))
        self.problems = problems


class TemplateLimitExceeded(TemplateError):
    """A template needs more CPU time or makes more text than the limits allow
    (CONSENTRY_TEMPLATE_CPU_SECONDS, CONSENTRY_TEMPLATE_MAX_BYTES)."""
