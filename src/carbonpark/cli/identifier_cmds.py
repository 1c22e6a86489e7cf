"""CLI of the identifier registry (标识解析): ``carbonpark resolve`` and ``carbonpark identifiers …``.

``resolve`` answers exactly like ``GET /api/handles/{prefix}/{suffix}`` (same body, the HTTP
status in ``status``); it runs as the local operator (who may read restricted values) unless
``--anonymous`` asks for what a client without login sees. A foreign prefix is forwarded to
``CARBONPARK_UPSTREAM_RESOLVER``. Exit status: 0 for responseCode 1 or 200, 1 otherwise.

References
----------
Guide §3.2.2(2)1; Handle.Net Technical Manual v9 (REST API); issue 7 items 1–2.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from carbonpark.cli.common import emit_json, err_console, new_app

if TYPE_CHECKING:
    from carbonpark.identifiers import Reader

# The identifier engine, the services, the store and the settings are imported inside the
# commands: start-up time of ``carbonpark`` (tests/test_cli_startup.py).

__all__ = ["register"]

Db = Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL or SQLite file path (default $CARBONPARK_DB).")]
Json = Annotated[bool, typer.Option("--json", help="Print exactly one JSON document.")]


def _operator() -> Reader:
    from carbonpark.identifiers import Reader
    from carbonpark.settings import get_settings

    return Reader(name=get_settings().actor, role="park_admin")


def _print_values(body: dict[str, Any]) -> None:
    table = Table(title=f"{body['handle']}  (responseCode {body['responseCode']})")
    for col in ("index", "type", "value", "ttl", "timestamp"):
        table.add_column(col)
    for v in body.get("values", []):
        table.add_row(str(v["index"]), v["type"], str(v["data"]["value"]), str(v["ttl"]), v["timestamp"])
    Console().print(table)
    if body.get("message"):
        err_console.print(body["message"])


def register(app: typer.Typer) -> None:
    """Add ``resolve`` and the ``identifiers`` group to ``app``."""

    @app.command("resolve")
    def resolve(
        handle: Annotated[str, typer.Argument(help="A Handle identifier, e.g. 88.1234/meter.17.")],
        db: Db = None,
        as_json: Json = False,
        types: Annotated[
            list[str] | None, typer.Option("--type", help="Only values of this type (repeatable).")
        ] = None,
        indices: Annotated[
            list[int] | None, typer.Option("--index", help="Only the value at this index (repeatable).")
        ] = None,
        anonymous: Annotated[bool, typer.Option("--anonymous", help="Answer as a client without login.")] = False,
    ) -> None:
        """Resolve an identifier in the Handle REST shape (标识解析)."""
        from carbonpark.identifiers import Reader, ResponseCode
        from carbonpark.services import identifiers as ids

        reader = Reader() if anonymous else _operator()
        answer = ids.resolve_once(db, handle, reader, types or [], indices or [])
        if as_json:
            emit_json({"status": answer.status, **answer.body})
        else:
            _print_values(answer.body)
        if answer.response_code not in (ResponseCode.SUCCESS, ResponseCode.VALUES_NOT_FOUND):
            raise typer.Exit(1)

    group = new_app("The identifier registry: values, history, nodes and statistics (标识注册).")
    app.add_typer(group, name="identifiers")

    @group.command("set")
    def set_value(
        handle: Annotated[str, typer.Argument(help="The identifier.")],
        value_type: Annotated[str, typer.Argument(help="Value type: URL, EMAIL, DESC, CARBON_FOOTPRINT …")],
        value: Annotated[str, typer.Argument(help="Text, or a JSON object for HS_ADMIN and carbon types.")],
        public: Annotated[bool | None, typer.Option("--public/--restricted", help="Who may read it.")] = None,
        db: Db = None,
        as_json: Json = False,
    ) -> None:
        """Set the first value of a type (added if missing); the change goes to the audit log."""
        from carbonpark.services import identifiers as ids
        from carbonpark.store import session

        with session(db) as s:
            row = ids.set_value(s, handle, value_type, value, _operator(), public=public)
            doc = {"handle": handle, "index": row.idx, "type": row.type, "public": row.public}
        emit_json(doc) if as_json else Console().print(f"{handle} index {doc['index']} {value_type} set")

    @group.command("delete-value")
    def delete_value(
        handle: Annotated[str, typer.Argument(help="The identifier.")],
        index: Annotated[int, typer.Argument(help="Index of the value.")],
        db: Db = None,
    ) -> None:
        """Remove one value (kept in the audit log)."""
        from carbonpark.services import identifiers as ids
        from carbonpark.store import session

        with session(db) as s:
            ids.delete_value(s, handle, index, _operator())
        err_console.print(f"{handle} index {index} removed")

    @group.command("history")
    def history(handle: Annotated[str, typer.Argument(help="The identifier.")], db: Db = None) -> None:
        """Every change of an identifier and its values (JSON)."""
        from carbonpark.services import identifiers as ids
        from carbonpark.store import session

        with session(db) as s:
            emit_json({"handle": handle, "changes": ids.history(s, handle)})

    @group.command("sync")
    def sync(db: Db = None, as_json: Json = False) -> None:
        """Register every registry entity that has no identifier yet, with its derived values."""
        from carbonpark.services import identifiers as ids
        from carbonpark.store import session

        with session(db) as s:
            added = ids.sync_registry(s, _operator())
        emit_json({"registered": added}) if as_json else Console().print(f"{added} identifiers registered")

    @group.command("stats")
    def stats(
        year: Annotated[int, typer.Option("--year", help="Calendar year.")],
        db: Db = None,
        as_json: Json = False,
    ) -> None:
        """Figures of the evaluation indicators 15–18 (coverage, registrations, active users, resolutions)."""
        from carbonpark.services import identifiers as ids
        from carbonpark.store import session

        with session(db) as s:
            figures = ids.statistics(s, year)
        doc = {"year": year, "node_coverage_percent": figures.node_coverage_percent, **figures.platform_figures()}
        if as_json:
            emit_json(doc)
            return
        for key, value in doc.items():
            Console().print(f"{key}: {value}")
