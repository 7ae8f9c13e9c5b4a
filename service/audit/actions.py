"""Action names for audit rows: a short dotted verb, ``<thing>.<verb>``.

A route may name its action (``opt={"audit": "contact.read"}``); otherwise
the name follows from the method and the route template, so every change
through the API is recorded without each route having to remember to:

- ``POST /contacts`` → ``contact.create`` (a plural collection gains a member)
- ``PATCH /campaigns/{campaign_id}`` → ``campaign.update``; ``DELETE`` → ``.delete``
- ``POST /campaigns/{campaign_id}/send`` → ``campaign.send`` (a verb on the thing)
- ``GET /contacts/{contact_id}/interactions`` → ``interaction.read``
"""

from __future__ import annotations

import re

AUTH_FAILURE = "auth.failure"
PERMISSION_DENIED = "permission.denied"
OPT_KEY = "audit"

_VERBS = {"POST": "create", "PUT": "update", "PATCH": "update", "DELETE": "delete", "GET": "read"}
_PARAM = re.compile(r"^\{.*\}$")
_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


def _snake(segment: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", segment.lower()).strip("_")


def _singular(segment: str) -> str:
    name = _snake(segment)
    return name[:-1] if name.endswith("s") and not name.endswith("ss") else name


def derive(method: str, template: str, *, prefix: str = "/api/v1") -> str:
    """The action name of a request to ``template`` (a route template with ``{params}``)."""
    segments = [s for s in template.removeprefix(prefix).split("/") if s]
    statics = [s for s in segments if not _PARAM.match(s)]
    verb = _VERBS.get(method.upper(), method.lower())
    if not statics:
        return f"api.{verb}"
    last = segments[-1]
    if _PARAM.match(last) or method.upper() != "POST":
        return f"{_singular(statics[-1])}.{verb}"
    if _snake(last).endswith("s") or len(statics) == 1:
        return f"{_singular(last)}.create"
    # POST /things/{id}/verb: something done to the thing.
    return f"{_singular(statics[-2])}.{_snake(last)}"


def is_valid(name: str) -> bool:
    return len(name) <= 64 and bool(_NAME.match(name))
