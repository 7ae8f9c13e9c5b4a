"""The packages of ``service`` (and ``workers``) import in one direction:
down this list.

ARCHITECTURE.md draws the same layers. A package may import any package in a
lower layer, never one in a higher layer, and never a sibling in its own layer
unless the layer says its members lean on each other. A forbidden arrow names
the importing and the imported module, so the fix starts at the right line.
"""

from __future__ import annotations

import grimp
import pytest

# Top first. Each line is one layer; "*" marks a layer whose members may import
# each other (the foundation's small modules do).
LAYERS: list[tuple[str, ...]] = [
    ("cli",),
    ("app", "workers", "supervise"),
    ("web", "observability"),
    ("tracking", "hooks", "dashboard"),
    ("campaigns", "retention", "backup", "inbound", "notice"),
    ("forms", "portal"),
    ("rights",),
    ("exports",),
    ("imports",),
    ("profiles",),
    ("contacts",),
    ("robinson", "api_tokens"),
    ("consent", "delivery"),
    # The controller's own registers: requests, breaches, processors.
    ("requests", "suppressions", "breaches", "processors"),
    ("auth",),
    ("audit",),
    (
        "*",
        "models",
        "db",
        "migrate",
        "queue",
        "mail",
        "openapi",
        "embedded",
        "settings",
        "settings_keys",
        "settings_hooks",
        "settings_vendor",
        "settings_readers",
        "settings_delivery",
        "clock",
        "batching",
        "errors",
        "crypto",
        "tokens",
        "ip",
        "json_limits",
        "private",
        "running",
        "security",
        "validation",
        "rules",
        "onetime",
        "public_limits",
        "public_pages",
        "countries",
        "i18n",
        "labels",
        "catalogs",
        "dependency_cleanup",
    ),
]

# Upward arrows allowed on purpose, each with its reason.
ALLOWED: dict[tuple[str, str], str] = {
    # The audit trail sits below auth (auth records its refusals in it), but
    # the trail's own routes are guarded like every route.
    ("service.audit.controllers", "service.auth"): "guards of the audit routes",
}


def _package(module: str) -> str:
    """``service.contacts.service`` is in ``contacts``; all of ``workers`` is one."""
    parts = module.split(".")
    if parts[0] == "workers":
        return "workers"
    return parts[1] if len(parts) > 1 else ""


def _rank() -> tuple[dict[str, int], set[int]]:
    rank: dict[str, int] = {}
    leaning: set[int] = set()
    for depth, layer in enumerate(reversed(LAYERS)):
        for name in layer:
            if name == "*":
                leaning.add(depth)
            else:
                rank[name] = depth
    return rank, leaning


def _allowed(importer: str, imported: str) -> bool:
    return any(
        (importer == a or importer.startswith(a + "."))
        and (imported == b or imported.startswith(b + "."))
        for a, b in ALLOWED
    )


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("service", "workers", cache_dir=None)


def test_every_package_has_a_layer(graph: grimp.ImportGraph) -> None:
    rank, _ = _rank()
    packages = {_package(m) for m in graph.modules if m.startswith(("service.", "workers"))}
    assert packages - set(rank) == set(), "add the new package to LAYERS (and ARCHITECTURE.md)"


def test_imports_run_down_the_layers(graph: grimp.ImportGraph) -> None:
    rank, leaning = _rank()
    wrong: list[str] = []
    ours = ("service.", "workers")
    for importer in sorted(m for m in graph.modules if m.startswith(ours)):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            if not imported.startswith(ours):
                continue
            a, b = _package(importer), _package(imported)
            if a == b or a not in rank or b not in rank or _allowed(importer, imported):
                continue
            if rank[a] < rank[b] or (rank[a] == rank[b] and rank[a] not in leaning):
                wrong.append(f"{importer} -> {imported}")
    assert wrong == [], "imports against the layers:\n" + "\n".join(wrong)


def test_the_check_sees_an_upward_arrow() -> None:
    """The rule itself: consent importing campaigns would be refused."""
    rank, leaning = _rank()
    assert rank["consent"] < rank["campaigns"]
    assert rank["web"] > rank["contacts"] > rank["consent"] > rank["models"]
    assert rank["campaigns"] not in leaning
    assert not _allowed("service.consent.queries", "service.campaigns.sending")
    assert _allowed("service.audit.controllers", "service.auth.middleware")
    assert _package("workers.campaigns") == "workers"
    assert rank["cli"] > rank["workers"] > rank["campaigns"]
