"""Campaign email rendering: marketer templates in a sandbox, inside trusted layouts.

Staff write the subject and bodies, so those run in a Jinja sandbox with
StrictUndefined; the controller's identity, the privacy contact and the
unsubscribe and tracking links come only from the layouts in
``templates/email/`` (STYLE.md principle 11). :func:`check_templates` compiles
and test-renders a campaign when it is saved, so mistakes surface with a field
and line number then rather than during a send. :class:`CampaignRenderer`
compiles a campaign once and renders it per recipient, cheaply: a worker
renders thousands of messages a second.

What rendering takes and gives is in ``service.mail.content``, the compiling
and the save-time check in ``service.mail.templates``, the tracked links in
``service.mail.links``; their public names are importable from here too.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import jinja2
from markupsafe import Markup

from service.mail import sandbox
from service.mail.content import (
    HEADER_UNSAFE,
    Content,
    Controller,
    Links,
    Rendered,
    TemplateError,
    TemplateLimitExceeded,
    TemplateProblem,
)
from service.mail.links import rewrite_links, trackable_links
from service.mail.sandbox import DEFAULT_LIMITS, Budget, Limits
from service.mail.templates import (
    GENDERS,
    LANGUAGES,
    SUBJECT_MAX_CHARS,
    check_templates,
    compile_campaign,
    render_template,
)
from service.mail.views import UI_TEXT, CampaignView, Recipient, contact_view

__all__ = [
    "DEFAULT_LAYOUT_DIR",
    "GENDERS",
    "HEADER_UNSAFE",
    "LANGUAGES",
    "SUBJECT_MAX_CHARS",
    "CampaignRenderer",
    "Content",
    "Controller",
    "Links",
    "Rendered",
    "TemplateError",
    "TemplateLimitExceeded",
    "TemplateProblem",
    "check_templates",
    "trackable_links",
]


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
# The last </body> of a document (a layout's); what follows it is the end tags.
_BODY_END = re.compile(r"</body\s*>(?![\s\S]*</body\s*>)", re.IGNORECASE)


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
        in_layout: bool = False,
    ) -> None:
        """Compile and check the templates; raise TemplateError if any has a
        problem (TemplateLimitExceeded if one is over a limit).

        ``in_layout``: the bodies are whole documents made in a saved layout
        (``service.mail.authoring.compose``); the trusted footer goes before
        their ``</body>`` instead of the default frame around them."""
        problems: list[TemplateProblem] = []
        compiled = compile_campaign(default, translations, limits, problems)
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
        self._footer = layouts.get_template("_footer.html.j2")
        self._in_layout = in_layout

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
                render_template(template, variables)
                for template in (version.subject, version.html, version.text)
            ]
        if links.click_url is not None and self.links:
            body_html = rewrite_links(body_html, self.links, links.click_url)
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
        end = _BODY_END.search(body_html) if self._in_layout else None
        if end is not None:
            # A layout's document: the footer goes in before its last </body>.
            footer = self._footer.render(layout)
            html = body_html[: end.start()] + footer + "\n" + body_html[end.start() :]
        else:
            # The body was rendered in the autoescaping sandbox; escaping it
            # again would show the reader its markup.
            html = self._html_layout.render(layout, body=Markup(body_html))  # noqa: S704
        text = self._text_layout.render(layout, body=body_text)
        return Rendered(language=version.language, subject=subject, html=html, text=text)
