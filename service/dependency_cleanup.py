"""A route's started dependencies are cleaned up even when a later one fails.

Litestar (2.25, pinned) resolves a route's dependencies into a cleanup group
and enters that group only once every dependency has resolved. When one of
them raises — our checks that answer 403 or 404 before a body is validated
(``provide_liftable_ban``, ``provide_checked_contact``) — the generators
already started are never resumed: the request's database session keeps its
connection checked out until the garbage collector finds it, and the pool
logs it. ``install()`` wraps the resolution so that a failure is first thrown
into the generators already started, as a failing handler's is: the session
rolls back and returns its connection, then the error answers as before.
"""

from __future__ import annotations

from typing import Any

from anyio import create_task_group
from litestar._kwargs.cleanup import DependencyCleanupGroup
from litestar._kwargs.dependencies import resolve_dependency
from litestar._kwargs.kwargs_model import KwargsModel
from litestar.connection import ASGIConnection


async def _resolve_dependencies(
    self: KwargsModel, connection: ASGIConnection[Any, Any, Any, Any], kwargs: dict[str, Any]
) -> DependencyCleanupGroup:
    """Litestar's ``KwargsModel.resolve_dependencies``, closing what it started on failure."""
    cleanup_group = DependencyCleanupGroup()
    try:
        for batch in self.dependency_batches:
            if len(batch) == 1:
                await resolve_dependency(next(iter(batch)), connection, kwargs, cleanup_group)
                continue
            try:
                async with create_task_group() as task_group:
                    for dependency in batch:
                        task_group.start_soon(
                            resolve_dependency, dependency, connection, kwargs, cleanup_group
                        )
            except BaseExceptionGroup as group:
                raise group.exceptions[0] from group
    except Exception as exc:
        await cleanup_group.close(exc)
        raise
    return cleanup_group


def install() -> None:
    """Replace the resolution once; idempotent."""
    KwargsModel.resolve_dependencies = _resolve_dependencies  # type: ignore[method-assign]
