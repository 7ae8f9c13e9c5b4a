"""SMS campaign rendering: the marketer's text in the same sandbox as an
email's text body, and the opt-out every message ends with.

An SMS has one text per language (``body_text``; no subject, no HTML). The
opt-out line is ours, never the author's (STYLE.md principle 11): the
short unsubscribe link and the STOP reply, in the contact's language.

An SMS also names who sends it (the Information Society Code 917/2014 § 202,
GDPR 21(4)): the gateway's sender id is not ours to rely on, so the
controller's name (``CONSENTRY_CONTROLLER_NAME``) goes on a line of its own
before the opt-out line, unless the author's text already names it. It costs
the name's length plus one character of the segment budget, which the
campaign's segment count (``GET …/sms-segments``) includes.
"""

from __future__ import annotations

from collections.abc import Mapping

from service.mail import sandbox
from service.mail.content import TemplateError, TemplateProblem
from service.mail.sandbox import DEFAULT_LIMITS, Budget, Limits
from service.mail.templates import compile_sms, render_template
from service.mail.views import CampaignView, Recipient, contact_view

# The last line of every campaign SMS; STOP is the keyword the gateway's
# inbound hook honours in every language (service.campaigns.sms_hooks).
OPT_OUT = {
    "fi": "Lopeta: {url} tai vastaa STOP",
    "sv": "Avsluta: {url} eller svara STOP",
    "en": "Opt out: {url} or reply STOP",
}


def with_opt_out(text: str, language: str, unsubscribe_url: str, sender: str | None = None) -> str:
    """The text, the sender's name on a line of its own unless the text names
    it already, then the opt-out line in ``language`` (English if unknown)."""
    line = OPT_OUT.get(language, OPT_OUT["en"]).format(url=unsubscribe_url)
    text = text.rstrip()
    if sender and sender.casefold() not in text.casefold():
        text = f"{text}\n{sender}"
    return f"{text}\n{line}"


class SmsRenderer:
    """One SMS campaign, compiled once, rendered for many recipients."""

    def __init__(
        self,
        *,
        campaign_id: int,
        campaign_name: str,
        default: str,
        translations: Mapping[str, str],
        sender: str | None = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        """Compile and check the texts; TemplateError if any has a problem.
        ``sender``: the controller's name every message carries."""
        problems: list[TemplateProblem] = []
        compiled = compile_sms(default, translations, limits, problems)
        if problems:
            raise TemplateError(problems)
        self._default = compiled.pop("default")
        self._translations = compiled
        self._campaign = CampaignView(id=campaign_id, name=campaign_name)
        self._limits = limits
        self._sender = sender

    def render(self, recipient: Recipient, unsubscribe_url: str) -> tuple[str, str]:
        """``(version, text)``: the language version used ("default" or a
        language) and the whole message, opt-out included. TemplateError
        when the text fails for this recipient, or is empty for them."""
        language = recipient.language
        template = self._translations.get(language, self._default)
        version = language if language in self._translations else "default"
        variables = {"contact": contact_view(recipient), "campaign": self._campaign}
        with sandbox.metered(Budget(self._limits)):
            text = render_template(template, variables)
        if not text.strip():
            field = (template.filename or "").strip("<>")
            raise TemplateError(
                [TemplateProblem(field, None, "the text is empty for this contact")]
            )
        return version, with_opt_out(text, language, unsubscribe_url, self._sender)
