"""A campaign's templates: compiled in the sandbox and test-rendered for
sample contacts, every problem reported with its field and line.

:func:`check_templates` runs when a campaign is saved, so mistakes surface then
rather than during a send; :func:`compile_campaign` is what the renderer
compiles a campaign with, under the same checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jinja2

from service.mail import sandbox
from service.mail.content import (
    HEADER_UNSAFE,
    Content,
    TemplateError,
    TemplateLimitExceeded,
    TemplateProblem,
)
from service.mail.sandbox import (
    DEFAULT_LIMITS,
    HTML_SANDBOX,
    TEXT_SANDBOX,
    Budget,
    LimitExceeded,
    Limits,
)
from service.mail.views import CampaignView, ContactView, Recipient, contact_view

LANGUAGES = ("fi", "sv", "en")
GENDERS = ("female", "male", "other", "unspecified")
SUBJECT_MAX_CHARS = 300

# Jinja names our view classes by their Python path; authors know them as these.
_TYPE_NAMES = {
    f"'{cls.__module__}.{cls.__name__} object'": f"'{name}'"
    for cls, name in ((ContactView, "contact"), (CampaignView, "campaign"))
} | {
    f"'{cls.__name__}' object": f"'{name}'"
    for cls, name in ((ContactView, "contact"), (CampaignView, "campaign"))
}


@dataclass(frozen=True, slots=True)
class Compiled:
    """One version of a campaign (a language, or the default), compiled."""

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


def render_template(template: jinja2.Template, variables: dict[str, Any]) -> str:
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
                rendered.append(render_template(template, variables))
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
) -> Compiled | None:
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
    return Compiled(language, subject, html, text)


def compile_campaign(
    default: Content,
    translations: Mapping[str, Content],
    limits: Limits,
    problems: list[TemplateProblem],
) -> dict[str, Compiled]:
    """Compile every version, keyed by language ("default" for the default),
    and test-render each within one CPU budget: TemplateLimitExceeded when
    it runs out."""
    compiled: dict[str, Compiled] = {}
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
        compile_campaign(default, translations, limits, problems)
    except TemplateLimitExceeded as exc:
        problems.extend(exc.problems)
    return problems


def compile_sms(
    default: str, translations: Mapping[str, str], limits: Limits, problems: list[TemplateProblem]
) -> dict[str, jinja2.Template]:
    """An SMS campaign's text versions (``body_text`` and each translation's),
    compiled in the text sandbox and test-rendered like an email's, keyed by
    language ("default" for the default)."""
    compiled: dict[str, jinja2.Template] = {}
    versions = [("default", "body_text", default)]
    for key, source in translations.items():
        language = str(key)
        if language in LANGUAGES:
            versions.append((language, f"translations.{language}.body_text", source))
        else:
            problems.append(
                TemplateProblem(
                    f"translations.{language}", None, "unknown language; use fi, sv or en"
                )
            )
    with sandbox.metered(Budget(limits, "to render for the sample contacts")) as budget:
        for language, field, source in versions:
            before = len(problems)
            template = _compile(TEXT_SANDBOX, source, field, problems)
            if template is None:
                continue
            (outputs,) = _try_samples([template], budget, problems)
            if any(not text.strip() for text in outputs):
                problems.append(TemplateProblem(field, None, "the text is empty after rendering"))
            if len(problems) == before:
                compiled[language] = template
    return compiled


def check_sms_templates(
    default: str, translations: Mapping[str, str], limits: Limits = DEFAULT_LIMITS
) -> list[TemplateProblem]:
    """Every problem in an SMS campaign's texts (``check_templates`` for SMS)."""
    problems: list[TemplateProblem] = []
    try:
        compile_sms(default, translations, limits, problems)
    except TemplateLimitExceeded as exc:
        problems.extend(exc.problems)
    return problems
