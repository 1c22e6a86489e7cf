"""Schemathesis over the whole OpenAPI document (issue 3 item 7): no 500s, no schema violations.

Every operation of ``/api/openapi.json`` (those of later capabilities too) gets a few generated
requests as the park administrator; the responses are checked against the document (status codes,
content types, headers, bodies). One park is built per module, on PostgreSQL (the production
database, where integer overflows and JSON rules bite) or on SQLite where no server is reachable;
examples are few to keep the suite fast. The live stream ``/api/monitoring/stream`` never ends by
design and is excluded here; tests/test_monitoring_api.py reads a bounded stream.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
import sqlalchemy as sa
from argon2 import PasswordHasher
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from carbonpark.services import auth
from carbonpark.store import connect
from conftest import _PG_PROBLEM, PG_URL
from test_api_park import build_park, client_for, fast_hashing, login  # noqa: F401 (autouse fixture)


@pytest.fixture(scope="module")
def module_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One database for the whole module: a fresh PostgreSQL schema, or a SQLite file without a server."""
    if _PG_PROBLEM:
        url = f"sqlite:///{tmp_path_factory.mktemp('schemathesis') / 'api.db'}"
        yield url
        connect(url).dispose()
        return
    schema = f"cp_st_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    try:
        yield url
    finally:
        connect(url).dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="module")
def api(module_db: str) -> Any:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        build_park(module_db)
    # a failed login is part of the generated traffic: the throttle must not lock the test's own login out
    return client_for(module_db, login_max_failures=1_000_000)


#: Besides the default statuses, 400 and 422 accept schema-valid input: rules the OpenAPI document cannot
#: state (a real calendar date, an enterprise only for role enterprise, a reference that exists …)
#: answer 422 problem details by design.
CONFIG = """
[checks.positive_data_acceptance]
expected-statuses = ["2XX", "3XX", "400", "401", "403", "404", "409", "422", "429"]
"""


@pytest.fixture(scope="module")
def api_schema(api: Any) -> Any:
    return schemathesis.openapi.from_asgi("/api/openapi.json", api.app, config=SchemathesisConfig.from_str(CONFIG))


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.exclude(path="/api/monitoring/stream").parametrize()
@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_conforms_to_its_openapi_document(case: Any, api: Any) -> None:
    headers = login(api, "admin")  # fresh each case: a generated request may revoke the admin's tokens
    case.call_and_validate(headers=headers)
