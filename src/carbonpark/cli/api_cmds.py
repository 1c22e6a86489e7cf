"""Commands of the API capability: ``users``, ``keys``, ``serve`` and ``remote`` (issue 3).

``serve`` starts uvicorn on the app factory ``carbonpark.api.app:create_app`` by its import
string (the CLI never imports the API package). ``remote`` reads a running server with the
typed client :mod:`carbonpark.client`.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from carbonpark.cli.common import emit_json, err_console, new_app
from carbonpark.cli.registry_cmds import DbOption, JsonOption
from carbonpark.errors import ValidationError

if TYPE_CHECKING:
    from carbonpark.client import Client

# The services, the store, the settings and the client are imported inside the commands
# (start-up time of ``carbonpark``; tests/test_cli_startup.py).

__all__ = ["register"]

out_console = Console()
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input (first line).")
]

Server = Annotated[str, typer.Option("--server", help="Server root, e.g. http://127.0.0.1:8000.")]
UserOpt = Annotated[str | None, typer.Option("--user", help="Log in as this user (password on stdin).")]


def _password_from_stdin(flag: bool) -> str:
    if not flag:
        raise ValidationError(
            "--password-stdin", "the password on standard input (passwords never go in arguments)", None
        )
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise ValidationError("standard input", "a password on the first line", "an empty line")
    return line


def register(app: typer.Typer) -> None:
    """Add ``users``, ``keys``, ``serve`` and ``remote`` to ``app``."""
    users_app = new_app("Users and roles of the API (park_admin, enterprise, verifier, regulator).")
    keys_app = new_app("API keys of devices and gateways (role device; shown once, stored hashed).")
    remote_app = new_app("Read a running carbonpark server through its REST API.")
    app.add_typer(users_app, name="users")
    app.add_typer(keys_app, name="keys")
    app.add_typer(remote_app, name="remote")

    @users_app.command("add")
    def users_add(
        name: Annotated[str, typer.Option("--name", help="Login name (no spaces).")],
        role: Annotated[str, typer.Option("--role", help="park_admin, enterprise, verifier or regulator.")],
        db: DbOption = None,
        enterprise: Annotated[
            str | None, typer.Option("--enterprise", help="Id, handle, credit code or name (role enterprise).")
        ] = None,
        password_stdin: PasswordStdin = False,
        json_out: JsonOption = False,
    ) -> None:
        """Create a user; the password (≥ 12 characters) is read from standard input and stored as an argon2 hash."""
        from carbonpark.services import auth
        from carbonpark.settings import get_settings
        from carbonpark.store import session

        password = _password_from_stdin(password_stdin)
        with session(db) as s:
            user = auth.add_user(s, name, role, password, get_settings().actor, enterprise=enterprise)
            doc = auth.user_public(user)
        emit_json(doc) if json_out else err_console.print(f"user {doc['name']} ({doc['role']}) created, id {doc['id']}")

    @users_app.command("list")
    def users_list(db: DbOption = None, json_out: JsonOption = False) -> None:
        """List users with role, enterprise and verifier assignments."""
        from carbonpark.services import auth
        from carbonpark.store import session

        with session(db) as s:
            rows = auth.list_users(s)
        if json_out:
            emit_json(rows)
            return
        table = Table("id", "name", "role", "enterprise", "active", "assignments", title="users")
        for u in rows:
            assigned = ", ".join(f"{a['enterprise_id']}/{a['year']}" for a in u["assignments"])
            table.add_row(str(u["id"]), u["name"], u["role"], str(u["enterprise_id"] or ""), str(u["active"]), assigned)
        out_console.print(table)

    @users_app.command("assign")
    def users_assign(
        name: Annotated[str, typer.Option("--name", help="The verifier's name or id.")],
        enterprise: Annotated[str, typer.Option("--enterprise", help="Id, handle, credit code or name.")],
        year: Annotated[int, typer.Option("--year", help="Reporting year.")],
        db: DbOption = None,
        json_out: JsonOption = False,
    ) -> None:
        """Assign a verifier to an enterprise for one reporting year."""
        from carbonpark.services import auth
        from carbonpark.settings import get_settings
        from carbonpark.store import session

        with session(db) as s:
            row = auth.assign_verifier(s, name, enterprise, year, get_settings().actor)
            doc = {"id": row.id, "user_id": row.user_id, "enterprise_id": row.enterprise_id, "year": row.year}
        emit_json(doc) if json_out else err_console.print(f"assigned: {doc}")

    @users_app.command("revoke-tokens")
    def users_revoke(
        name: Annotated[str, typer.Option("--name", help="User name or id.")],
        db: DbOption = None,
        json_out: JsonOption = False,
    ) -> None:
        """Revoke every live bearer token of a user (log out everywhere)."""
        from carbonpark.services import auth
        from carbonpark.settings import get_settings
        from carbonpark.store import session

        with session(db) as s:
            n = auth.revoke_user_tokens(s, name, get_settings().actor)
        emit_json({"revoked": n}) if json_out else err_console.print(f"revoked {n} token(s)")

    @keys_app.command("add")
    def keys_add(
        name: Annotated[str, typer.Option("--name", help="Key name, e.g. the gateway's.")],
        db: DbOption = None,
        enterprise: Annotated[
            str | None, typer.Option("--enterprise", help="Scope: every meter of this enterprise.")
        ] = None,
        meter: Annotated[
            list[str] | None, typer.Option("--meter", help="Scope: this meter (repeat for several).")
        ] = None,
        json_out: JsonOption = False,
    ) -> None:
        """Create a device/gateway API key; the key is printed once on standard output."""
        from carbonpark.services import auth
        from carbonpark.settings import get_settings
        from carbonpark.store import session

        with session(db) as s:
            row, secret = auth.add_api_key(
                s, auth.SecuritySettings(), name, get_settings().actor, enterprise=enterprise, meters=meter
            )
            doc = {**auth.key_public(s, row), "key": secret}
        if json_out:
            emit_json(doc)
            return
        err_console.print(f"API key {doc['name']} created (id {doc['id']}); it is shown only now:")
        typer.echo(secret)

    @keys_app.command("list")
    def keys_list(db: DbOption = None, json_out: JsonOption = False) -> None:
        """List API keys (name, first characters, scope, revocation; never the key)."""
        from carbonpark.services import auth
        from carbonpark.store import session

        with session(db) as s:
            rows = auth.list_keys(s)
        if json_out:
            emit_json(rows)
            return
        table = Table("id", "name", "prefix", "enterprise", "meters", "revoked", title="API keys")
        for k in rows:
            table.add_row(
                str(k["id"]),
                k["name"],
                k["key_prefix"],
                str(k["enterprise_id"] or ""),
                ",".join(map(str, k["meter_ids"])),
                "yes" if k["revoked_ms"] else "",
            )
        out_console.print(table)

    @keys_app.command("revoke")
    def keys_revoke(
        ref: Annotated[str, typer.Argument(help="Key id or name.")],
        db: DbOption = None,
        json_out: JsonOption = False,
    ) -> None:
        """Revoke an API key."""
        from carbonpark.services import auth
        from carbonpark.settings import get_settings
        from carbonpark.store import session

        with session(db) as s:
            doc = auth.revoke_key(s, ref, get_settings().actor)
        emit_json(doc) if json_out else err_console.print(f"API key {doc['name']} revoked")

    @app.command()
    def serve(
        db: DbOption = None,
        host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
        workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
    ) -> None:
        """Serve the REST API with uvicorn (docs at /api/docs); refuses production mode with a default secret."""
        import uvicorn

        from carbonpark.services import auth
        from carbonpark.store import normalise_url, session

        auth.check_production(auth.SecuritySettings())
        if db:
            os.environ["CARBONPARK_DB"] = normalise_url(db)
        with session(os.environ.get("CARBONPARK_DB")):  # fail here, readably, if the schema is missing
            pass
        err_console.print(f"carbonpark API on http://{host}:{port}/api/docs (database {normalise_url(db)})")
        uvicorn.run(
            "carbonpark.api.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="info",
            server_header=False,
        )

    def _client(server: str, user: str | None, password_stdin: bool) -> Client:
        from carbonpark.client import Client

        client = Client(server)
        if user:
            client.login(user, _password_from_stdin(password_stdin))
        elif os.environ.get("CARBONPARK_TOKEN"):
            client.token = os.environ["CARBONPARK_TOKEN"]
        else:
            raise ValidationError("--user", "--user NAME --password-stdin, or a token in CARBONPARK_TOKEN", None)
        return client

    @remote_app.command("list")
    def remote_list(
        resource: Annotated[str, typer.Argument(help="parks, enterprises, sites, meters, sources, products, audit …")],
        server: Server,
        user: UserOpt = None,
        password_stdin: PasswordStdin = False,
        limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
        offset: Annotated[int, typer.Option(min=0)] = 0,
        enterprise: Annotated[str | None, typer.Option(help="Filter by enterprise.")] = None,
        json_out: JsonOption = False,
    ) -> None:
        """One page of a resource from a running server (what your role may see)."""
        with _client(server, user, password_stdin) as client:
            page = client.list(resource, limit=limit, offset=offset, enterprise=enterprise)
        if json_out:
            emit_json(page)
            return
        _print_rows(resource, page["items"], f"{page['total']} in total")

    @remote_app.command("get")
    def remote_get(
        resource: Annotated[str, typer.Argument(help="parks, enterprises, sites, meters, sources, products")],
        ref: Annotated[str, typer.Argument(help="Numeric id or Handle identifier.")],
        server: Server,
        user: UserOpt = None,
        password_stdin: PasswordStdin = False,
        json_out: JsonOption = False,
    ) -> None:
        """One entity from a running server."""
        with _client(server, user, password_stdin) as client:
            doc = client.get(resource, ref)
        if json_out:
            emit_json(doc)
            return
        _print_rows(resource, [doc], doc.get("handle") or "")


def _print_rows(title: str, rows: list[dict[str, Any]], caption: str) -> None:
    if not rows:
        out_console.print(f"{title}: none ({caption})")
        return
    columns = [c for c in rows[0] if not isinstance(rows[0][c], dict | list)][:8]
    table = Table(*columns, title=title, caption=caption)
    for r in rows:
        table.add_row(*(str(r.get(c, "")) for c in columns))
    out_console.print(table)
