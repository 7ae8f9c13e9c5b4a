"""Cookie-derived visit data (the privacy notice §5): which pages of the
company's website a person who clicked a tracked link then looked at.

Three conditions, all checked by the server (the snippet checks them too):

* the **visitor cookie**, set by a tracked click only for a person the consent
  gate lets be tracked, and only when their browser sends neither ``DNT: 1``
  nor ``Sec-GPC: 1``. It holds a signed token (contact, campaign, the day it
  was set), is HttpOnly, SameSite=Lax, Secure under https, scoped to ``/t``,
  and lasts ``CONSENTRY_VISIT_COOKIE_DAYS`` (at most 13 months) — the token's
  day is checked too, so a copied cookie does not outlive that;
* a **recorded cookie decision**: the visitor's latest ``analytics`` decision
  in the site's cookie banner, recorded by ``POST /t/consent`` and read from
  the ledger by the browser's consent cookie (``service.tracking.site_consent``),
  is a grant. The beacon's own ``"consent"`` flag (sent by older snippets) is
  accepted and ignored;
* **no opt-out signal**: a request with ``DNT: 1`` or ``Sec-GPC: 1`` is never
  recorded, and the snippet does not even send one.

A page view is one beacon sent when the visitor leaves the page: the page, the
page they came from and the page they went on to (the last link they clicked
on it), each reduced to origin and path before it is queued.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from service import clock, json_limits
from service.tokens import InvalidToken, TokenSigner
from service.tracking.useragent import reduce_url

COOKIE_NAME = "consentry_visitor"
COOKIE_PATH = "/t"
PURPOSE = "visit"  # of the signed token in the cookie
# A beacon carries three URLs and a flag; anything bigger is not ours.
MAX_BEACON_BYTES = 4096
_EPOCH = date(1970, 1, 1)


class BadBeacon(ValueError):
    """The body is not a page view: the message says what is wrong with it."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Visitor:
    contact_id: int
    campaign_id: int | None


@dataclass(frozen=True, slots=True)
class PageView:
    page: str
    referrer: str | None
    next_page: str | None


def opted_out(headers: Mapping[str, str]) -> bool:
    """Whether the browser asks not to be tracked (DNT or Global Privacy Control)."""
    return headers.get("dnt", "").strip() == "1" or headers.get("sec-gpc", "").strip() == "1"


def cookie_value(signer: TokenSigner, contact_id: int, campaign_id: int | None) -> str:
    day = (clock.today() - _EPOCH).days
    return signer.sign(PURPOSE, contact_id, campaign_id or 0, day)


def read_cookie(signer: TokenSigner, value: str | None, max_age_days: int) -> Visitor | None:
    """The visitor a cookie names; None when absent, forged or too old."""
    if not value:
        return None
    try:
        contact_id, campaign_id, day = signer.verify(value, PURPOSE)
    except (InvalidToken, ValueError):
        return None
    if not 0 <= (clock.today() - _EPOCH).days - day < max_age_days:
        return None
    return Visitor(contact_id, campaign_id or None)


def parse_beacon(body: bytes, site_origins: tuple[str, ...]) -> PageView:
    """Read a beacon's JSON body; raise BadBeacon saying what is wrong.

    The page must be on one of the site's origins; the referrer and the next
    page may be anywhere (they are reduced to origin and path either way).
    """
    if len(body) > MAX_BEACON_BYTES:
        raise BadBeacon(f"a page view is at most {MAX_BEACON_BYTES} bytes")
    try:
        data = json_limits.loads(body)
    except json_limits.BadJson as exc:
        raise BadBeacon(str(exc)) from None
    if not isinstance(data, dict):
        raise BadBeacon(json_limits.NOT_AN_OBJECT)
    unknown = sorted(set(data) - {"page", "referrer", "next", "consent"})
    if unknown:
        raise BadBeacon(f"unknown field {unknown[0]!r}", unknown[0])
    # Older snippets send the site's flag; only its type is checked now.
    if not isinstance(data.get("consent", False), bool):
        raise BadBeacon("must be true or false", "consent")
    page = _url(data, "page", required=True)
    if page is None or not any(page == o or page.startswith(o + "/") for o in site_origins):
        raise BadBeacon("must be a page of the site (CONSENTRY_SITE_ORIGINS)", "page")
    return PageView(
        page=page,
        referrer=_url(data, "referrer"),
        next_page=_url(data, "next"),
    )


def _url(data: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise BadBeacon("required", name)
        return None
    if not isinstance(value, str):
        raise BadBeacon("must be a URL", name)
    reduced = reduce_url(value)
    if reduced is None:
        raise BadBeacon("must be an absolute http(s) URL", name)
    return reduced


SNIPPET = """\
/* Consentry: the cookie banner's decisions and the page views they allow.
   consentry.consent({analytics: true, marketing: false}, VERSION, "fi") records
   the visitor's decision with the banner version shown (POST /t/consent) and
   returns a promise of the server's answer. A page view (POST /t/v, one per
   page, when the visitor leaves it) is sent only after the server recorded an
   analytics grant in this browser, never with Do Not Track or Global Privacy
   Control; the server checks its own record again and stores it only for a
   visitor who arrived through a tracked link. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) { return; }
  var base = script.src.replace(/\\/v\\.js(?:[?#].*)?$/, "");
  var KEY = "consentry.analytics";
  var page = location.href, referrer = document.referrer || null, next = null, sent = false;

  function optedOut() {
    return navigator.doNotTrack === "1" || window.doNotTrack === "1" ||
      navigator.globalPrivacyControl === true;
  }
  function recorded() {
    try { return window.localStorage.getItem(KEY); } catch (e) { return null; }
  }
  function remember(action) {
    try { window.localStorage.setItem(KEY, action); } catch (e) { /* storage off */ }
  }

  document.addEventListener("click", function (event) {
    var link = event.target && event.target.closest ? event.target.closest("a[href]") : null;
    if (link) { next = link.href; }
  }, true);

  function send() {
    if (sent || recorded() !== "grant" || optedOut()) { return; }
    sent = true;
    var body = JSON.stringify({ page: page, referrer: referrer, next: next });
    if (!(navigator.sendBeacon && navigator.sendBeacon(base + "/v", body))) {
      fetch(base + "/v", { method: "POST", body: body, credentials: "include",
                           keepalive: true, mode: "no-cors" });
    }
  }

  window.addEventListener("pagehide", send);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") { send(); }
  });
  window.consentry = {
    consent: function (categories, version, language) {
      var lang = language || (document.documentElement.lang || "").slice(0, 2).toLowerCase();
      return fetch(base + "/consent", {
        method: "POST", credentials: "include",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ language: lang, categories: categories, version: version })
      }).then(function (response) {
        return response.ok ? response.json() : null;
      }).then(function (answer) {
        var action = answer && answer.recorded && answer.recorded.analytics;
        if (action) { remember(action); }
        return answer;
      });
    }
  };
})();
"""
