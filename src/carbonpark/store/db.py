"""Opening the database: SQLite file by default, PostgreSQL by URL; Alembic migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from carbonpark.errors import CarbonparkError, ValidationError
from carbonpark.settings import default_db_url

__all__ = [
    "SchemaOutdated",
    "connect",
    "current_revisions",
    "head_revisions",
    "is_postgres",
    "normalise_url",
    "schema_revision",
    "session",
    "upgrade",
]


class SchemaOutdated(CarbonparkError):
    """The database has no tables yet, or an older schema: run ``carbonpark db upgrade``."""


def normalise_url(db: str | None) -> str:
    """A SQLAlchemy URL from ``--db``: a URL as it is, a file path as ``sqlite:///<absolute path>``."""
    text = (db or "").strip() or default_db_url()
    if "://" in text:
        if text.startswith(("postgres://", "postgresql://")):
            text = "postgresql+psycopg://" + text.split("://", 1)[1]
        return text
    if text.endswith("/") or Path(text).is_dir():
        raise ValidationError("--db", "a SQLAlchemy URL or a SQLite file path", db)
    return f"sqlite:///{Path(text).expanduser().resolve()}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


@lru_cache(maxsize=16)
def connect(db: str | None = None) -> Engine:
    """The engine for ``db`` (URL or SQLite path), one per URL per process."""
    url = normalise_url(db)
    if url.startswith("sqlite"):
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    return engine


def is_postgres(engine: Engine) -> bool:
    """Whether the engine talks to PostgreSQL."""
    return engine.dialect.name == "postgresql"


def _alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(files("carbonpark.store").joinpath("migrations")))
    cfg.attributes["connection_engine"] = engine
    return cfg


def upgrade(db: str | None = None) -> str:
    """Bring the schema to the newest revision of every branch; return the heads, comma-joined.

    Each capability keeps its tables on its own Alembic branch off ``0001`` (``branch_labels``
    name the capability), so ``heads`` rather than ``head`` is the target.
    """
    engine = connect(db)
    with engine.begin() as conn:
        cfg = _alembic_config(engine)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")
    return head_revision()


def _script() -> ScriptDirectory:
    return ScriptDirectory(str(files("carbonpark.store").joinpath("migrations")))


@lru_cache(maxsize=1)
def head_revisions() -> frozenset[str]:
    """What ``alembic_version`` holds at the newest shipped schema (read once per process).

    The newest revision of each migration branch, except a head that another head reaches through
    ``depends_on`` (or ``down_revision``): Alembic records only the dependent revision then, so
    comparing with every branch head would call an up-to-date database outdated.
    """
    script = _script()
    heads = set(script.get_heads())

    def parents(rev: str) -> set[str]:
        node: Any = script.get_revision(rev)
        found: set[str] = set()
        for attr in (node.down_revision, node.dependencies):  # dependencies may name a branch label
            if attr:
                refs = [attr] if isinstance(attr, str) else list(attr)
                found |= {script.get_revision(r).revision for r in refs}
        return found

    reached: set[str] = set()
    pending = [p for h in heads for p in parents(h)]
    while pending:
        rev = pending.pop()
        if rev not in reached:
            reached.add(rev)
            pending.extend(parents(rev))
    return frozenset(heads - reached)


def head_revision() -> str:
    """The shipped heads as one sorted, comma-joined string (for messages and ``db upgrade``)."""
    return ",".join(sorted(head_revisions()))


def current_revisions(engine: Engine) -> frozenset[str]:
    """The revisions the database is at (empty for an empty database)."""
    with engine.connect() as conn:
        return frozenset(MigrationContext.configure(conn).get_current_heads())


def schema_revision(engine: Engine) -> str | None:
    """The revisions the database is at, sorted and comma-joined (None for an empty database)."""
    current = current_revisions(engine)
    return ",".join(sorted(current)) if current else None


def _missing_sqlite_file(engine: Engine) -> bool:
    """Whether ``engine`` is a SQLite file that does not exist (opening it would create an empty one)."""
    name = engine.url.database
    if engine.url.get_backend_name() != "sqlite" or not name or name == ":memory:":
        return False
    return not Path(name).exists()


@contextmanager
def session(db: str | None = None, *, require_schema: bool = True) -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on any error.

    Raises
    ------
    SchemaOutdated
        If the schema is not at the newest revision (``carbonpark db upgrade`` fixes it).
    """
    engine = connect(db)
    if require_schema and _missing_sqlite_file(engine):
        raise SchemaOutdated(
            f"no database file at {engine.url.database}: "
            "run 'carbonpark db upgrade --db …' (or 'carbonpark demo') first"
        )
    if require_schema and current_revisions(engine) != head_revisions():
        raise SchemaOutdated(
            f"database {engine.url.render_as_string(hide_password=True)} is not at schema {head_revision()}: "
            "run 'carbonpark db upgrade --db …' (or 'carbonpark demo') first"
        )
    maker = sessionmaker(engine, expire_on_commit=False)
    with maker() as s, s.begin():
        yield s
