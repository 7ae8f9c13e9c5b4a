"""One permission vocabulary, and the roles of CONTRACT.md as sets of it.

Every route declares the permission it needs (``requires``); nothing checks a
role by name.
"""

from __future__ import annotations

from enum import StrEnum

from service.models.enums import Role


class Permission(StrEnum):
    CONTACTS_READ = "contacts:read"
    CONTACTS_READ_IDENTITY_CODE = "contacts:read_identity_code"
    CONTACTS_WRITE = "contacts:write"
    CONSENTS_WRITE = "consents:write"
    CAMPAIGNS_READ = "campaigns:read"
    CAMPAIGNS_WRITE = "campaigns:write"
    CAMPAIGNS_SEND = "campaigns:send"
    CALL_LISTS_DOWNLOAD = "call_lists:download"
    STATISTICS_READ = "statistics:read"
    PROFILES_READ = "profiles:read"
    PROFILES_WRITE = "profiles:write"
    RIGHTS_MANAGE = "rights:manage"
    USERS_MANAGE = "users:manage"
    AUDIT_READ = "audit:read"
    TOKENS_OWN = "tokens:own"
    CONTACTS_EXPORT = "contacts:export"
    ROBINSON_READ = "robinson:read"
    ROBINSON_MANAGE = "robinson:manage"
    FORMS_READ = "forms:read"
    FORMS_WRITE = "forms:write"
    # The inputs the gate trusts beyond the ledger: legal_basis, contact_type,
    # is_customer, and lifting a direct-marketing ban (issue 17).
    GATE_INPUTS_WRITE = "contacts:write_gate_inputs"
    # Exporting people the gate leaves out (a ban, an objection, suppression).
    CONTACTS_EXPORT_EXCLUDED = "contacts:export_excluded"
    BREACHES_MANAGE = "breaches:manage"
    PROCESSORS_MANAGE = "processors:manage"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.MARKETER: frozenset(
        {
            Permission.CONTACTS_READ,
            Permission.CONTACTS_WRITE,
            Permission.CONSENTS_WRITE,
            Permission.CAMPAIGNS_READ,
            Permission.CAMPAIGNS_WRITE,
            Permission.CAMPAIGNS_SEND,
            Permission.STATISTICS_READ,
            Permission.TOKENS_OWN,
            Permission.CONTACTS_EXPORT,
            Permission.ROBINSON_READ,
            Permission.FORMS_READ,
            Permission.FORMS_WRITE,
        }
    ),
    Role.PRIVACY_OFFICER: frozenset(
        {
            Permission.CONTACTS_READ,
            Permission.CONTACTS_READ_IDENTITY_CODE,
            Permission.CONTACTS_WRITE,
            Permission.CONSENTS_WRITE,
            Permission.PROFILES_READ,
            Permission.PROFILES_WRITE,
            Permission.RIGHTS_MANAGE,
            Permission.AUDIT_READ,
            Permission.TOKENS_OWN,
            Permission.ROBINSON_READ,
            Permission.ROBINSON_MANAGE,
            Permission.FORMS_READ,
            Permission.FORMS_WRITE,
            Permission.CONTACTS_EXPORT,
            Permission.GATE_INPUTS_WRITE,
            Permission.CONTACTS_EXPORT_EXCLUDED,
            Permission.BREACHES_MANAGE,
            Permission.PROCESSORS_MANAGE,
        }
    ),
    Role.CALLER: frozenset({Permission.CALL_LISTS_DOWNLOAD, Permission.TOKENS_OWN}),
    Role.VIEWER: frozenset(
        {
            Permission.CONTACTS_READ,
            Permission.CAMPAIGNS_READ,
            Permission.STATISTICS_READ,
            Permission.TOKENS_OWN,
            Permission.ROBINSON_READ,
            Permission.FORMS_READ,
        }
    ),
}
