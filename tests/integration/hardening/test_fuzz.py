"""schemathesis against the OpenAPI schema: no operation answers a server error.

Generated requests go to the app in-process (schemathesis's ASGI client) with
an admin token, so the authenticated routes are exercised too; SQLite only
(one database is enough for a fuzzer), a few examples per operation."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.strategies import SearchStrategy
from litestar import Litestar
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import content_type_conformance

from service.migrate import upgrade
from service.models.enums import Role
from tests.conftest import TokenFactory

pytestmark = pytest.mark.slow
EXAMPLES_PER_OPERATION = 5


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """SQLite only: overrides the conftest's fixture parametrised over both backends."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('fuzz') / Path('fuzz.db')}"
    upgrade(url)
    return url


def _fuzz(strategy: SearchStrategy[schemathesis.Case], token: str, *, api: bool) -> None:
    # The public HTML pages document application/json (their handlers return
    # Response[str]): content types are checked on the API only.
    checks = [not_a_server_error, content_type_conformance] if api else [not_a_server_error]

    @hypothesis_settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: schemathesis.Case) -> None:
        response = case.call(headers={"Authorization": f"Bearer {token}"})
        case.validate_response(
            response,
            checks=checks,
            headers={"Authorization": f"Bearer {token}"},
        )

    run()


async def test_no_operation_answers_a_server_error(app: Litestar, make_token: TokenFactory) -> None:
    token = await make_token(Role.ADMIN)
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20  # the schema really lists the API
    try:
        for operation in operations:
            _fuzz(operation.as_strategy(), token, api=operation.path.startswith("/api/"))
    finally:
        asgi.shutdown_lifespans()
