"""Fixtures of the browser tests: one running service and one Chromium per module."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.support.consentry_run import RunningService, running_service
from tests.support.web import (
    AXE_CHECKED,
    AXE_FINDINGS,
    CHROMIUM,
    CHROMIUM_ARGS,
    Staff,
    add_staff,
)

_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    with running_service(tmp_path_factory.mktemp("web")) as run:
        yield run


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is missing at {CHROMIUM}: apt-get install chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def staff(service: RunningService) -> Callable[[str], Staff]:
    """A new staff account of a role (each test its own: no shared second factor)."""

    def make(role: str) -> Staff:
        return add_staff(service, f"{role}.{next(_numbers)}@example.fi", role)

    return make


@pytest.fixture(autouse=True)
def no_accessibility_findings() -> Iterator[None]:
    """Every page the test loaded passed axe-core (tests.support.web.new_page)."""
    AXE_FINDINGS.clear()
    AXE_CHECKED.clear()
    yield
    assert not AXE_FINDINGS, "axe-core found:\n" + "\n".join(dict.fromkeys(AXE_FINDINGS))
