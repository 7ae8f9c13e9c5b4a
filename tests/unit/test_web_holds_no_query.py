"""ARCHITECTURE.md's invariant: ``service/web/`` holds no query. A page calls a
service function (the one an API route calls), and may pass the request's
session on, but builds no statement: no SQLAlchemy or SQLModel beyond the
session's type, no ``db.run``, nothing from a domain's ``queries`` but the
gate's context, a plain value."""

from __future__ import annotations

import ast
from pathlib import Path

WEB = Path(__file__).resolve().parents[2] / "service" / "web"
# (module, name) pairs a page may import from the query side.
ALLOWED = {
    ("sqlmodel.ext.asyncio.session", "AsyncSession"),
    ("service.db", "session_scope"),  # the session's own transaction, for the cookie check
    ("service.consent.queries", "GateContext"),
}
FORBIDDEN_MODULES = ("sqlalchemy", "sqlmodel")


def _forbidden(module: str, name: str) -> bool:
    if (module, name) in ALLOWED:
        return False
    top = module.split(".")[0]
    return top in FORBIDDEN_MODULES or module == "service.db" or module.endswith(".queries")


def _imports(path: Path) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.extend((node.module, alias.name) for alias in node.names)
        elif isinstance(node, ast.Import):
            found.extend((alias.name, "*") for alias in node.names)
    return found


def test_no_page_builds_a_statement() -> None:
    modules = sorted(WEB.glob("*.py"))
    assert len(modules) > 5
    wrong = [
        f"{path.name}: from {module} import {name}"
        for path in modules
        for module, name in _imports(path)
        if _forbidden(module, name)
    ]
    wrong += [
        f"{path.name}: runs a statement ({call})"
        for path in modules
        for call in (".exec(", ".execute(")
        if call in path.read_text()
    ]
    assert wrong == [], "queries belong in a service (service/<domain>/):\n" + "\n".join(wrong)


def test_the_check_sees_a_query() -> None:
    assert _forbidden("sqlalchemy", "select")
    assert _forbidden("sqlmodel", "col")
    assert _forbidden("service.db", "run")
    assert _forbidden("service.campaigns.queries", "audience_members")
    assert not _forbidden("service.campaigns.service", "audience_members")
