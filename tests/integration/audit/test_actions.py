"""Action names derived from the method and route template, for routes that do
not name their own, and a check that every API route gets a sensible one."""

from __future__ import annotations

import pytest
from litestar import Litestar

from service.audit import actions


@pytest.mark.parametrize(
    ("method", "template", "action"),
    [
        ("POST", "/api/v1/contacts", "contact.create"),
        ("PATCH", "/api/v1/contacts/{contact_id}", "contact.update"),
        ("DELETE", "/api/v1/contacts/{contact_id}/bans/{ban_id}", "ban.delete"),
        ("POST", "/api/v1/contacts/{contact_id}/legal-holds", "legal_hold.create"),
        ("POST", "/api/v1/campaigns/{campaign_id}/send", "campaign.send"),
        ("POST", "/api/v1/campaigns/{campaign_id}/call-list", "campaign.call_list"),
        ("POST", "/api/v1/requests/{request_id}/close", "request.close"),
        ("GET", "/api/v1/contacts/{contact_id}/interactions", "interaction.read"),
        ("GET", "/api/v1/profiles/{profile_id}/content", "content.read"),
        ("PATCH", "/api/v1/profiles/{profile_id}", "profile.update"),
        ("POST", "/api/v1/audit", "audit.create"),
    ],
)
def test_derived_names(method: str, template: str, action: str) -> None:
    assert actions.derive(method, template) == action


def test_every_api_route_has_a_valid_action_name(app: Litestar) -> None:
    names = {}
    for route in app.routes:
        if not route.path.startswith("/api/"):
            continue
        for handler in getattr(route, "route_handlers", []):
            for method in handler.http_methods - {"OPTIONS", "HEAD"}:
                name = handler.opt.get(actions.OPT_KEY) or actions.derive(method, route.path_format)
                names[(method, route.path_format)] = name
    assert len(names) > 40
    invalid = {key: name for key, name in names.items() if not actions.is_valid(name)}
    assert not invalid


def test_every_recorded_api_route_runs_in_a_request_session(app: Litestar) -> None:
    """The audit row rides on the request's session (``db_session``): a change
    or a read of a person made without one would go unrecorded."""
    without = []
    for route in app.routes:
        if not route.path.startswith("/api/"):
            continue
        for handler in getattr(route, "route_handlers", []):
            methods = handler.http_methods - {"OPTIONS", "HEAD"}
            recorded = methods and (
                methods - {"GET"}
                or handler.opt.get(actions.OPT_KEY)
                or "{contact_id" in route.path_format
            )
            if recorded and "db_session" not in handler.parsed_fn_signature.parameters:
                without.append((sorted(methods), route.path_format))
    assert not without
