"""Schemathesis over the whole OpenAPI document (issue 3 item 7): no 500s, no schema violations.

Every operation of ``/api/openapi.json`` (those of later capabilities too) gets a few generated
requests as the park administrator, on SQLite and PostgreSQL; the responses are checked against
the document (status codes, content types, headers, bodies). Examples are few to keep the suite fast.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from test_api_park import build_park, client_for, fast_hashing, login  # noqa: F401 (autouse fixture)


@pytest.fixture
def api(db_url: str) -> Any:
    build_park(db_url)
    # a failed login is part of the generated traffic: the throttle must not lock the test's own login out
    client = client_for(db_url, login_max_failures=1_000_000)
    return client


#: Besides the default statuses, 400 and 422 accept schema-valid input: rules the OpenAPI document cannot
#: state (a real calendar date, an enterprise only for role enterprise, a reference that exists …)
#: answer 422 problem details by design.
CONFIG = """
[checks.positive_data_acceptance]
expected-statuses = ["2XX", "3XX", "400", "401", "403", "404", "409", "422", "429"]
"""


@pytest.fixture
def api_schema(api: Any) -> Any:
    return schemathesis.openapi.from_asgi("/api/openapi.json", api.app, config=SchemathesisConfig.from_str(CONFIG))


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_conforms_to_its_openapi_document(case: Any, api: Any) -> None:
    headers = login(api, "admin")  # fresh each case: a generated request may revoke the admin's tokens
    case.call_and_validate(headers=headers)
