"""Every column that can hold free text is classified: either it is one of its
table's ``__pii_columns__`` (the access export, erasure and retention read
that list) or it is named below with the reason it holds no personal data.

A new text or JSON column anywhere fails this test until someone decides
which it is, so personal data cannot slip into an unmarked column unnoticed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, String, Text
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

import service.models  # noqa: F401  (every table on the metadata)
from service.models.base import EnumString

NOT_PERSONAL: dict[tuple[str, str], str] = {
    ("users", "password_hash"): "an Argon2 hash of a staff password",
    ("api_tokens", "name"): "the staff member's label for a token",
    ("api_tokens", "token_hash"): "SHA-256 of a random token",
    ("users", "totp_secret"): "a staff member's encrypted authenticator secret",
    ("recovery_codes", "code_hash"): "a keyed hash of a random one-time code",
    ("staff_sessions", "token_hash"): "SHA-256 of a random session token",
    ("staff_links", "token_hash"): "SHA-256 of a random set-password link token",
    ("users", "language"): "fi, sv or en: the staff UI's language",
    ("layouts", "name"): "a staff label for an email layout",
    ("layouts", "mjml"): "an email layout's markup, written by staff",
    ("layouts", "html"): "the compiled layout",
    ("campaigns", "body_source"): "the campaign's Markdown, as written by staff",
    ("login_attempts", "account_hash"): "a keyed hash of the email typed, for throttling",
    ("suppressions", "value_hash"): "a keyed hash; the list must survive erasure",
    ("suppressions", "kind"): "email or phone",
    ("suppressions", "reason"): "erasure, objection or bounce",
    ("bounce_counters", "value_hash"): "a keyed hash, deleted with the person on erasure",
    ("bounce_counters", "last_status"): "an RFC 3463 status code only",
    ("delivery_events", "value_hash"): "a keyed hash, blanked on erasure (the count stays)",
    ("delivery_events", "source"): "where a bounce or complaint came from (smtp, dsn, ses, ...)",
    ("delivery_events", "status"): "an RFC 3463 status code only",
    ("delivery_events", "provider_event_id"): "an ESP's or our own event id, names no person",
    ("retention_actions", "rule"): "a rule name",
    ("retention_actions", "action"): "an action name",
    ("retention_actions", "reference"): "a kind and an id, never personal data",
    ("campaigns", "name"): "written by staff about a campaign",
    ("campaigns", "subject"): "a template, not a person's data",
    ("campaigns", "body_html"): "a template",
    ("campaigns", "body_text"): "a template",
    ("campaigns", "translations"): "templates",
    ("campaigns", "segment"): "filters: languages, tags, contact types",
    ("campaigns", "pause_reason"): "why sending stopped (SMTP failures), by the system",
    ("campaigns", "message_key"): "random",
    ("campaigns", "audience_at_build"): "counts per reason",
    ("call_lists", "audience_at_build"): "counts per reason",
    ("campaign_recipients", "reason"): "reason codes",
    ("campaign_recipients", "bounce_status"): "an RFC 3463 status code only",
    ("consent_events", "notice_version"): "which notice text was shown",
    ("consent_events", "language"): "the language a consent text was shown in",
    ("consent_texts", "key"): "where a text is shown (a form and offer, the banner)",
    ("consent_texts", "language"): "a language code",
    ("consent_texts", "body"): "the company's own words shown to everyone",
    ("consent_texts", "hash"): "SHA-256 of those words",
    ("public_attempts", "kind"): "which rate limit",
    ("public_attempts", "key_hash"): "a keyed hash of an address or network, swept after a day",
    ("portal_links", "token_hash"): "SHA-256 of a random one-time token",
    ("portal_links", "session_hash"): "SHA-256 of a random session token",
    ("signup_forms", "slug"): "a form's name in its URL",
    ("signup_forms", "name"): "written by staff about a form",
    ("signup_forms", "languages"): "language codes",
    ("signup_forms", "offers"): "channels, purposes and text ids",
    ("signup_forms", "fields"): "names of contact fields",
    ("signup_forms", "notice_version"): "which notice text the form links",
    ("signup_forms", "thank_you_url"): "the company's own page",
    ("signup_forms", "confirmed_url"): "the company's own page",
    ("signup_forms", "origins"): "the company's own sites",
    ("form_versions", "definition"): "a form as staff defined it",
    ("signups", "language"): "a language code",
    ("signups", "offers"): "channels, purposes and text ids",
    ("signups", "token_hash"): "SHA-256 of a random one-time token",
    ("site_consent_events", "category"): "a cookie category (a closed vocabulary)",
    ("site_consent_events", "language"): "a language code",
    ("consent_states", "channel"): "a closed vocabulary (a key column)",
    ("consent_states", "purpose"): "a closed vocabulary (a key column)",
    ("contact_changes", "fields"): "names of changed fields, never values",
    ("engagement_events", "stream_id"): "a Redis stream entry id",
    ("audit_cuts", "anchor_hash"): "the row hash of the last audit row removed",
    ("breaches", "nature"): "an incident, by categories and numbers (docs/breaches.md)",
    ("breaches", "likely_consequences"): "an incident's consequences, by categories",
    ("breaches", "measures"): "what the company did about an incident",
    ("breaches", "delay_reason"): "why the authority was told late",
    ("breaches", "not_notified_reason"): "why the authority was not told",
    ("breaches", "people_informed_how"): "how people were told (a channel)",
    ("breaches", "data_categories"): "categories of data, not the data",
    ("breaches", "people_categories"): "categories of people, not the people",
    ("breaches", "authority_reference"): "the authority's case number",
    ("processors", "name"): "a company's name",
    ("processors", "service"): "what a company does for us",
    ("processors", "country"): "a country code",
    ("processors", "safeguard"): "a transfer safeguard (SCCs, adequacy)",
    ("processors", "data_categories"): "categories of data, not the data",
    ("recipient_notifications", "fields"): "names of changed fields, never values",
    ("disclosures", "country"): "the recipient's country code",
    ("restrictions", "person_informed_how"): "how the person was told (email, letter)",
    ("request_actions", "action"): "an action name",
    ("erasures", "cause"): "request or retention:<rule>",
    # Written by staff; deleted with the contact (disclosures) or kept as proof
    # of a timely answer (requests): must name no one.
    ("disclosures", "identity_code_basis"): "the legal basis, e.g. a statute",
    ("disclosures", "safeguard"): "the transfer safeguard, e.g. standard clauses",
    # The audit trail holds ids, not values (service.models.audit).
    ("audit_events", "action"): "an action name, e.g. contact.read",
    ("audit_events", "method"): "an HTTP method",
    ("audit_events", "route"): "a route template with {placeholders}, never a path",
    ("audit_events", "details"): "ids, counts and vocabulary words, checked on the way in",
    ("audit_events", "prev_hash"): "SHA-256 of the previous audit row",
    ("audit_events", "row_hash"): "SHA-256 of the audit row",
}


def _model(table: Any) -> Any:
    return next(
        m.class_
        for m in SQLModel._sa_registry.mappers  # type: ignore[attr-defined]
        if m.local_table is table
    )


def _holds_text(column: Any) -> bool:
    kind = column.type
    if isinstance(kind, EnumString):
        return False  # a closed vocabulary
    base = kind.impl_instance if isinstance(kind, TypeDecorator) else kind
    return isinstance(base, String | Text | JSON)


def unclassified(tables: list[Any], pii_of: Any) -> list[tuple[str, str]]:
    """Text columns in neither their table's personal-data list nor NOT_PERSONAL."""
    return [
        (table.name, column.name)
        for table in tables
        for column in table.columns
        if _holds_text(column)
        and column.name not in pii_of(table)
        and (table.name, column.name) not in NOT_PERSONAL
    ]


def test_every_text_column_is_personal_or_explained() -> None:
    tables = SQLModel.metadata.sorted_tables
    missing = unclassified(tables, lambda table: set(_model(table).__pii_columns__))
    assert not missing, f"add these to their table's __pii_columns__, or to NOT_PERSONAL: {missing}"
    both = [
        key
        for table in tables
        for column in table.columns
        if (key := (table.name, column.name)) in NOT_PERSONAL
        and column.name in _model(table).__pii_columns__
    ]
    assert not both, f"marked personal and not personal at once: {both}"
    seen = {(table.name, column.name) for table in tables for column in table.columns}
    assert set(NOT_PERSONAL) <= seen, f"no such columns: {set(NOT_PERSONAL) - seen}"


def test_a_new_unmarked_column_is_noticed() -> None:
    from sqlalchemy import Column, Integer, MetaData, Table

    contacts = next(t for t in SQLModel.metadata.sorted_tables if t.name == "contacts")
    probe = Table(
        "contacts",
        MetaData(),
        *(column._copy() for column in contacts.columns),
        Column("maiden_name", String(200)),
        Column("shoe_size", Integer),
    )
    pii = set(_model(contacts).__pii_columns__)
    assert unclassified([probe], lambda table: pii) == [("contacts", "maiden_name")]
