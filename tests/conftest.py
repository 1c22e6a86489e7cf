"""Shared fixtures: every store test runs on SQLite and on the real PostgreSQL.

PostgreSQL is reached at ``CARBONPARK_TEST_PG`` (default the machine's
``postgresql+psycopg://postgres@127.0.0.1:5432/test``); each test gets a fresh schema.
Without a server the PostgreSQL cases skip with a one-line reason, except in CI
(``CI=true``), where they fail instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from carbonpark.store import connect

PG_URL = os.environ.get("CARBONPARK_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _pg_reachable() -> str | None:
    try:
        engine = sa.create_engine(PG_URL)
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any driver or network failure means "not here"
        return f"PostgreSQL not reachable at {PG_URL}: {type(exc).__name__}"


_PG_PROBLEM = _pg_reachable()


def pytest_configure(config: pytest.Config) -> None:
    if _PG_PROBLEM and IN_CI:
        raise pytest.UsageError(f"CI=true but {_PG_PROBLEM}; .ci/run should have started it")


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARBONPARK_OUTPUT_DIR", str(tmp_path / "out"))
    monkeypatch.delenv("CARBONPARK_DB", raising=False)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database: a SQLite file, or a fresh schema on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'test.db'}"
        yield url
        connect(url).dispose()
        return
    if _PG_PROBLEM:
        pytest.skip(_PG_PROBLEM)
    schema = f"cp_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    try:
        yield url
    finally:
        connect(url).dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="module")
def small_demo_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The small demo park (seed 7, 2025) on SQLite, built once per test module that reads it."""
    from carbonpark.services.demo import build_demo

    path = tmp_path_factory.mktemp("demo")
    url = f"sqlite:///{path / 'demo.db'}"
    build_demo(url, "small", seed=7, year=2025, out_dir=path)
    return url
