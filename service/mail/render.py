"""Campaign email rendering: marketer templates in a sandbox, inside trusted layouts.

Staff write the subject and bodies, so those run in a Jinja sandbox with
StrictUndefined; the controller's identity, the privacy contact and the
unsubscribe and tracking links come only from the layouts in
``templates/email/`` (STYLE.md principle 11). :func:`check_templates` compiles
and test-renders a campaign when it is saved, so mistakes surface with a field
and line number then rather than during a send. :class:`CampaignRenderer`
compiles a campaign once and renders it per recipient, cheaply: a worker
renders thousands of messages a second.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from service.mail import sandbox
from service.mail.sandbox import (
    DEFAULT_LIMITS,
    HTML_SANDBOX,
    TEXT_SANDBOX,
    Budget,
    LimitExceeded,
    Limits,
)
from service.mail.views import (
    UI_TEXT,
    CampaignView,
    ContactView,
    Recipient,
    contact_view,
)
from service.settings import Settings

LANGUAGES = ("fi", "sv", "en")
GENDERS = ("female", "male", "other", "unspecified")
SUBJECT_MAX_CHARS = 300
# Anything that ends a line somewhere. CR and LF would start a new header (header
# injection); the rest are line breaks to str.splitlines(), which email.header
# uses when it folds, so compat32 would fold there or fail while writing the message.
HEADER_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")


def _default_layout_dir() -> Path:
    """$CONSENTRY_TEMPLATES_DIR/email, else the repository's own templates/email.

    The variable is for installed copies (`pip install .`), where this file no
    longer sits two levels below the repository's templates/.
    """
    root = os.environ.get("CONSENTRY_TEMPLATES_DIR", "").strip()
    if root:
        return Path(root) / "email"
    return Path(__file__).resolve().parents[2] / "templates" / "email"


DEFAULT_LAYOUT_DIR = _default_layout_dir()


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


# Jinja names our view classes by their Python path; authors know them as these.
_TYPE_NAMES = {
    f"'{cls.__module__}.{cls.__name__} object'": f"'{name}'"
    for cls, name in ((ContactView, "contact"), (CampaignView, "campaign"))
} | {
    f"'{cls.__name__}' object": f"'{name}'"
    for cls, name in ((ContactView, "contact"), (CampaignView, "campaign"))
}


@dataclass(frozen=True, slots=True)
class _Compiled:
    language: str  # as reported in Rendered.language
    subject: jinja2.Template
    html: jinja2.Template
    text: jinja2.Template


def _sample_variables() -> tuple[dict[str, Any], ...]:
    """Every language and gender, optional fields both missing and present."""
    campaign = CampaignView(id=1, name="Sample campaign")
    samples = []
    for language in LANGUAGES:
        for gender in GENDERS:
            for filled in (False, True):
                recipient = Recipient(
                    full_name="Aino Virtanen",
                    nickname="Aino" if filled else None,
                    language=language,
                    gender=gender,
                    employer="Esimerkki Oy" if filled else None,
                    position="Toimitusjohtaja" if filled else None,
                    city="Oulu" if filled else None,
                )
                samples.append({"contact": contact_view(recipient), "campaign": campaign})
    return tuple(samples)


_SAMPLES = _sample_variables()


def _message(exc: BaseException) -> str:
    text = exc.message if isinstance(exc, jinja2.TemplateError) else str(exc)
    text = sandbox.scrub(text or type(exc).__name__)
    for python_name, template_name in _TYPE_NAMES.items():
        text = text.replace(python_name, template_name)
    return text


def _template_line(exc: BaseException, filename: str) -> int | None:
    """The line in template `filename` where `exc` arose.

    Jinja rewrites tracebacks so that template frames carry the template's
    filename and source line; the innermost such frame is the one to report.
    """
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _problem(template: jinja2.Template, exc: BaseException) -> TemplateProblem:
    filename = template.filename or ""
    return TemplateProblem(filename.strip("<>"), _template_line(exc, filename), _message(exc))


def _compile(
    env: sandbox.Sandbox, source: str, field: str, problems: list[TemplateProblem]
) -> jinja2.Template | None:
    # Named "<field>" so that render errors can be traced back to the field and line.
    filename = f"<{field}>"
    try:
        code = env.compile(source, name=filename, filename=filename)
    except jinja2.TemplateSyntaxError as exc:
        problems.append(TemplateProblem(field, exc.lineno, _message(exc)))
        return None
    return env.template_class.from_code(env, code, env.make_globals(None), None)


def _render(template: jinja2.Template, variables: dict[str, Any]) -> str:
    """Render under the current budget; a problem names the field and line."""
    try:
        return sandbox.render(template, variables)
    except LimitExceeded as exc:
        raise TemplateLimitExceeded([_problem(template, exc)]) from exc
    except Exception as exc:  # whatever the author's template raised, reported alike
        raise TemplateError([_problem(template, exc)]) from exc


def _try_samples(
    templates: list[jinja2.Template], budget: Budget, problems: list[TemplateProblem]
) -> list[list[str]]:
    """Render each template for every sample recipient, a sample's templates
    making one message; record each distinct failure; return each template's
    outputs. Out of budget, stop: TemplateLimitExceeded."""
    outputs: list[list[str]] = [[] for _ in templates]
    seen: set[TemplateProblem] = set()
    for variables in _SAMPLES:
        budget.new_message()
        for template, rendered in zip(templates, outputs, strict=True):
            try:
                rendered.append(_render(template, variables))
            except TemplateLimitExceeded:
                raise
            except TemplateError as exc:
                for problem in exc.problems:
                    if problem not in seen:
                        seen.add(problem)
                        problems.append(problem)
    return outputs


def _check_subject(subjects: list[str], field: str, problems: list[TemplateProblem]) -> None:
    if any(HEADER_UNSAFE.search(subject) for subject in subjects):
        problems.append(TemplateProblem(field, None, "the subject must be a single line"))
    longest = max((len(subject) for subject in subjects), default=0)
    if longest > SUBJECT_MAX_CHARS:
        problems.append(
            TemplateProblem(
                field,
                None,
                f"the subject is up to {longest} characters long after rendering; "
                f"the limit is {SUBJECT_MAX_CHARS}",
            )
        )
    if any(not subject.strip() for subject in subjects):
        problems.append(TemplateProblem(field, None, "the subject is empty after rendering"))


def _compile_content(
    content: Content,
    prefix: str,
    language: str,
    budget: Budget,
    problems: list[TemplateProblem],
) -> _Compiled | None:
    before = len(problems)
    subject = _compile(TEXT_SANDBOX, content.subject, prefix + "subject", problems)
    html = _compile(HTML_SANDBOX, content.body_html, prefix + "body_html", problems)
    text = _compile(TEXT_SANDBOX, content.body_text, prefix + "body_text", problems)
    compiled = [template for template in (subject, html, text) if template is not None]
    outputs = _try_samples(compiled, budget, problems)
    if subject is not None:
        _check_subject(outputs[0], prefix + "subject", problems)
    if subject is None or html is None or text is None or len(problems) > before:
        return None
    return _Compiled(language, subject, html, text)


# A link the author wrote out in full: http(s), no template expression in it.
_LITERAL_HREF = re.compile(r"""href\s*=\s*["'](https?://[^"'{}<>\s]+)["']""", re.IGNORECASE)


def trackable_links(default: Content, translations: Mapping[str, Content]) -> tuple[str, ...]:
    """The links a click redirect may lead to, numbered in a fixed order.

    Only links written literally in an HTML body count: a redirect then goes
    to a URL the campaign itself contains, never to one a request names.
    """
    bodies = [default.body_html] + [translations[lang].body_html for lang in sorted(translations)]
    found: dict[str, None] = {}
    for body in bodies:
        for match in _LITERAL_HREF.finditer(body):
            found.setdefault(match.group(1))
    return tuple(found)


def _rewrite_links(html: str, links: tuple[str, ...], click_url: Callable[[int], str]) -> str:
    for index, url in enumerate(links):
        tracked = click_url(index)
        html = html.replace(f'href="{url}"', f'href="{tracked}"').replace(
            f"href='{url}'", f"href='{tracked}'"
        )
    return html


def _compile_campaign(
    default: Content,
    translations: Mapping[str, Content],
    limits: Limits,
    problems: list[TemplateProblem],
) -> dict[str, _Compiled]:
    """Compile every version, keyed by language ("default" for the default),
    and test-render each within one CPU budget: TemplateLimitExceeded when
    it runs out."""
    compiled: dict[str, _Compiled] = {}
    versions = [("default", "", default)]
    for key, content in translations.items():
        language = str(key)  # a StrEnum from the API schema reads as its value
        if language in LANGUAGES:
            versions.append((language, f"translations.{language}.", content))
        else:
            problems.append(
                TemplateProblem(
                    f"translations.{language}", None, "unknown language; use fi, sv or en"
                )
            )
    with sandbox.metered(Budget(limits, "to render for the sample contacts")) as budget:
        for language, prefix, content in versions:
            version = _compile_content(content, prefix, language, budget, problems)
            if version is not None:
                compiled[language] = version
    return compiled


def check_templates(
    default: Content, translations: Mapping[str, Content], limits: Limits = DEFAULT_LIMITS
) -> list[TemplateProblem]:
    """Every problem in a campaign's templates, found by compiling and test-rendering them.

    The test renders cover every language and gender, with the optional contact
    fields both empty and filled, so that a misspelt `{{ contact.nme }}` or an
    unsafe attribute is reported now, with its line, and not during a send.
    All of them together get the CPU time of one message (`limits`); a
    template over a limit is reported naming it. CPU-bound: call it from a
    worker thread in async code (asyncio.to_thread).
    """
    problems: list[TemplateProblem] = []
    try:
        _compile_campaign(default, translations, limits, problems)
    except TemplateLimitExceeded as exc:
        problems.extend(exc.problems)
    return problems


@lru_cache(maxsize=8)
def _layout_environment(layout_dir: Path) -> jinja2.Environment:
    # Shared, so that each layout is parsed once per process rather than per campaign.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(layout_dir),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",)),
        undefined=jinja2.StrictUndefined,
    )


class CampaignRenderer:
    """One campaign, compiled once, rendered for many recipients."""

    def __init__(
        self,
        *,
        campaign_id: int,
        campaign_name: str,
        default: Content,
        translations: Mapping[str, Content],
        controller: Controller,
        layout_dir: Path = DEFAULT_LAYOUT_DIR,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        """Compile and check the templates; raise TemplateError if any has a
        problem (TemplateLimitExceeded if one is over a limit)."""
        problems: list[TemplateProblem] = []
        compiled = _compile_campaign(default, translations, limits, problems)
        if problems:
            raise TemplateError(problems)
        self._default = compiled.pop("default")
        self._translations = compiled
        self.links = trackable_links(default, translations)
        self._campaign = CampaignView(id=campaign_id, name=campaign_name)
        self._controller = controller
        self._limits = limits
        layouts = _layout_environment(layout_dir)
        self._html_layout = layouts.get_template("_base.html.j2")
        self._text_layout = layouts.get_template("_base.txt.j2")

    def render(self, recipient: Recipient, links: Links) -> Rendered:
        """The message for one recipient.

        Raises TemplateError when a template fails for this recipient only, on a
        path that the save-time check's sample recipients did not take, and
        TemplateLimitExceeded when the message takes more CPU time or makes
        more text than the limits allow.
        """
        version = self._translations.get(recipient.language, self._default)
        variables = {
            "contact": contact_view(recipient),
            "campaign": self._campaign,
        }
        with sandbox.metered(Budget(self._limits)):
            subject, body_html, body_text = [
                _render(template, variables)
                for template in (version.subject, version.html, version.text)
            ]
        if links.click_url is not None and self.links:
            body_html = _rewrite_links(body_html, self.links, links.click_url)
        if HEADER_UNSAFE.search(subject):
            field = (version.subject.filename or "").strip("<>")
            raise TemplateError(
                [TemplateProblem(field, None, "the subject is not a single line for this contact")]
            )
        ui_language = recipient.language if recipient.language in UI_TEXT else "en"
        layout = {
            "subject": subject,
            "language": ui_language,
            "controller": self._controller,
            "text": UI_TEXT[ui_language],
            "unsubscribe_url": links.unsubscribe_url,
            "preferences_url": links.preferences_url,
            "stop_tracking_url": links.stop_tracking_url,
            "open_pixel_url": links.open_pixel_url,
        }
        # The body was rendered in the autoescaping sandbox; escaping it again
        # would show the reader its markup.
        html = self._html_layout.render(layout, body=Markup(body_html))  # noqa: S704
        text = self._text_layout.render(layout, body=body_text)
        return Rendered(language=version.language, subject=subject, html=html, text=text)
