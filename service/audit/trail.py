"""Recording the API's requests in the audit trail.

Two paths, as STYLE.md principle 10 asks:

- **With the change.** ``begin`` notes an audit row on the request's session
  when the request is one to record: every non-GET request under ``/api``
  (a change), and GET routes that read a person's data (a route marked
  ``opt={"audit": …}``, or any route with a ``{contact_id}``). The row is
  written by a ``before_commit`` hook of that session, so it commits with
  the change it records — even when a handler commits part-way, as starting
  a campaign does — and a request that fails rolls back and records nothing.
  Handlers add ids and counts with ``annotate``.
- **On its own.** A refused token (``auth.failure``) and a permission denial
  (``permission.denied``) are recorded in a transaction of their own, since
  the request they belong to fails.

Nothing of the request's content reaches the trail: the route template, not
the path; ids and counts, not query strings or bodies — except the reason a
staff member gives for revealing an identity code.
"""

from __future__ import annotations

import re
from typing import Any, Protocol, runtime_checkable

from litestar.connection import ASGIConnection
from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit import actions
from service.audit.chain import Event, append, append_sync
from service.db import SessionMaker, session_scope
from service.ip import truncate_ip
from service.models.audit import AuditActor
from service.settings import Settings

_PENDING = "consentry.audit"


@runtime_checkable
class Staff(Protocol):
    """Who acts: service.auth's ``Principal``, put on the request by its
    middleware. The trail sits below auth (which records its refusals here),
    so it names only what it reads."""

    @property
    def user_id(self) -> int: ...


_API_PREFIX = "/api/"
# Detail values are ids, counts, flags and names from a closed vocabulary
# (a permission, a format): never free text that could carry personal data.
_WORD = re.compile(r"^[a-z0-9_.:-]{1,64}$")
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class UnsafeDetail(ValueError):
    """A detail that is not an id, a count, a flag or a vocabulary word."""


def _check(key: str, value: Any) -> Any:
    if not _KEY.match(key):
        raise UnsafeDetail(f"audit detail key {key!r}")
    items = value if isinstance(value, list) else [value]
    for item in items:
        if item is None or isinstance(item, bool | int):
            continue
        if isinstance(item, str) and _WORD.match(item):
            continue
        raise UnsafeDetail(f"audit detail {key!r} must be ids, counts or vocabulary words")
    return value


def ip_network(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The caller's network, cut to the configured prefixes; None when unknown."""
    client = connection.client
    if client is None:
        return None
    settings: Settings = connection.app.state.settings
    try:
        return truncate_ip(
            client.host, v4_prefix=settings.ip_v4_prefix, v6_prefix=settings.ip_v6_prefix
        )
    except ValueError:
        return None


def _method(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    return str(connection.scope.get("method", "GET"))


def _template(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    template: str = connection.scope.get("path_template") or connection.scope["path"]
    return template


def _event(
    connection: ASGIConnection[Any, Any, Any, Any],
    *,
    action: str,
    status_code: int,
    principal: Staff | None,
) -> Event:
    params = dict(connection.path_params)
    contact_id = params.pop("contact_id", None)
    return Event(
        actor=AuditActor.STAFF if principal else AuditActor.PUBLIC,
        actor_user_id=principal.user_id if principal else None,
        action=action,
        method=_method(connection),
        route=_template(connection),
        status_code=status_code,
        contact_id=contact_id if isinstance(contact_id, int) else None,
        details={k: _check(k, v) for k, v in params.items() if isinstance(v, int)},
        ip_network=ip_network(connection),
    )


def _principal(connection: ASGIConnection[Any, Any, Any, Any]) -> Staff | None:
    user = connection.scope.get("user")
    return user if isinstance(user, Staff) else None


def begin(session: AsyncSession, connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """Note the request's audit row on its session, if it is one to record."""
    principal = _principal(connection)
    method = _method(connection)
    if principal is None or method in {"HEAD", "OPTIONS"}:
        return
    if not connection.scope["path"].startswith(_API_PREFIX):
        return
    handler = connection.route_handler
    named = handler.opt.get(actions.OPT_KEY)
    template = _template(connection)
    if method == "GET" and named is None and "{contact_id" not in template:
        return  # a read of nothing personal: campaigns, statistics, plans
    action = named or actions.derive(method, template)
    status_code = getattr(handler, "status_code", None) or 200
    session.info[_PENDING] = _event(
        connection, action=action, status_code=status_code, principal=principal
    )


def note(
    session: AsyncSession,
    connection: ASGIConnection[Any, Any, Any, Any],
    *,
    action: str,
    status_code: int,
    user_id: int | None = None,
) -> None:
    """Record a request outside ``/api`` (a login step, a page that shows a
    person's data) with the request's transaction. ``user_id``: the staff
    member it concerns when no one is signed in yet (a login step)."""
    principal = _principal(connection)
    event_ = _event(connection, action=action, status_code=status_code, principal=principal)
    if principal is None and user_id is not None:
        event_.actor = AuditActor.STAFF
        event_.actor_user_id = user_id
    session.info[_PENDING] = event_


def annotate(
    session: AsyncSession,
    *,
    contact_id: int | None = None,
    reason: str | None = None,
    **details: Any,
) -> None:
    """Add to the request's pending audit row: the contact it was about (when
    the path does not name it), the reveal reason, and ids or counts."""
    pending: Event | None = session.info.get(_PENDING)
    if pending is None:
        return
    if contact_id is not None:
        pending.contact_id = contact_id
    if reason is not None:
        pending.reason = reason
    pending.details.update(
        {key: _check(key, value) for key, value in details.items() if value is not None}
    )


@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    pending: Event | None = session.info.pop(_PENDING, None)
    if pending is not None:
        append_sync(session, pending)


async def _record_apart(sessionmaker: SessionMaker, event_: Event) -> None:
    async with session_scope(sessionmaker) as session:
        await append(session, event_)


async def record_auth_failure(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """A token was presented and refused: where from and which route, never the token."""
    await _record_apart(
        connection.app.state.sessionmaker,
        _event(connection, action=actions.AUTH_FAILURE, status_code=401, principal=None),
    )


async def record_denial(connection: ASGIConnection[Any, Any, Any, Any], permission: str) -> None:
    """A staff member's role lacks the route's permission."""
    denial = _event(
        connection,
        action=actions.PERMISSION_DENIED,
        status_code=403,
        principal=_principal(connection),
    )
    denial.details["permission"] = _check("permission", permission)
    await _record_apart(connection.app.state.sessionmaker, denial)
