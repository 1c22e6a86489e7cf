"""CLI commands of the ledger capability (``carbonpark ledger …``).

On files only, for third parties without the park's database: ``keygen``,
``verify-inclusion``, ``verify-consistency``, ``verify-head``, ``check-proof``, ``rate FILE``.
On the park's database (``--db``): ``sign``, ``verify``, ``proof``, ``key register|revoke|list``,
``rate --org --year``. Against a park's API: ``witness --server``. A verification that fails
prints its result and exits 1 (docs/ledger.md).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from carbonpark.cli.common import emit_json, err_console, new_app
from carbonpark.cli.registry_cmds import DbOption
from carbonpark.errors import ValidationError

if TYPE_CHECKING:
    from carbonpark.ledger.rating import TrustRecord

# The ledger engine (cryptography), the ledger service and YAML are imported inside the
# commands: start-up time of ``carbonpark`` (tests/test_cli_startup.py).

#: Environment variable of the park's private key: ``carbonpark.services.ledger.LEDGER_KEY_ENV``,
#: repeated here for the help text so that ``--help`` does not import the service (a test keeps
#: the two equal).
LEDGER_KEY_ENV = "CARBONPARK_LEDGER_KEY"

__all__ = ["register"]

_out = Console(highlight=False)

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on standard output.")]
ProofOption = Annotated[
    list[str] | None,
    typer.Option(
        "--proof",
        help="A proof hash, hex (64 digits) or base64; repeat the option, or separate hashes with commas.",
    ),
]


LangOption = Annotated[str, typer.Option("--lang", help="Language of the table: zh (default) or en.")]

_WORDS: dict[str, dict[str, Any]] = {
    "zh": {
        "ok": "通过",
        "findings": "发现 {n} 处问题",
        "headline": "账本校验：{verdict} — 共 {size} 条存证，最新签名树头覆盖 {signed} 条，园区密钥 {key}…",
        "checked": "已核对",
        "columns": ("类别", "记录", "问题", "叶序号"),
        "more": "… 另有 {n} 处（--json 列出全部）",
        "warning": "提示",
        "rating_columns": ("指标", "取值", "权重", "得分", "贡献"),
        "indicators": {
            "metered_share": "计量数据占比",
            "completeness": "数据完整率",
            "on_time_share": "按时报送率",
            "signature_coverage": "签名覆盖率",
            "quality_flag_share": "质量标记率",
            "quarantine_share": "隔离数据率",
            "verification_findings": "核查重大发现",
            "corrections": "报送后更正",
        },
        "rating_title": "{ent} {year} 年碳数据信用：{score:g} 分（{grade}）",
    },
    "en": {
        "ok": "OK",
        "findings": "{n} finding(s)",
        "headline": "ledger verify: {verdict} — {size} entries, signed head of size {signed}, park key {key}…",
        "checked": "checked",
        "columns": ("kind", "record", "problem", "leaf"),
        "more": "… and {n} more (--json lists all)",
        "warning": "warning",
        "rating_columns": ("indicator", "value", "weight", "points", "contribution"),
        "indicators": {},
        "rating_title": "{ent} {year}: {score:g} ({grade})",
    },
}


def _words(lang: str) -> dict[str, Any]:
    if lang not in _WORDS:
        raise ValidationError("--lang", "zh or en", lang)
    return _WORDS[lang]


def _hash(text: str, field: str) -> bytes:
    """A 32-byte hash given as 64 hex digits or as standard base64."""
    from carbonpark.ledger import merkle

    text = text.strip()
    try:
        raw = bytes.fromhex(text) if len(text) == 64 else base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        raw = b""
    if len(raw) != merkle.HASH_SIZE:
        raise ValidationError(field, "a 32-byte hash as 64 hex digits or base64", text)
    return raw


def _proof(values: list[str] | None) -> list[bytes]:
    parts = [p for value in values or [] for p in value.split(",") if p.strip()]
    return [_hash(p, f"--proof[{i}]") for i, p in enumerate(parts)]


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValidationError(str(path), f"a JSON {what}", str(exc).splitlines()[0]) from None


def _verdict(doc: dict[str, Any], as_json: bool, title: str) -> None:
    """Print a verification result and exit 1 when it failed."""
    if as_json:
        emit_json(doc)
    else:
        table = Table(title=title, show_header=False)
        for key, value in doc.items():
            table.add_row(key, json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value))
        _out.print(table)
    if not doc["ok"]:
        raise typer.Exit(1)


def keygen(
    out: Annotated[Path, typer.Option("--out", help="Where to write the private key (PKCS #8 PEM, mode 0600).")],
    public_out: Annotated[
        Path | None, typer.Option("--public-out", help="Where to write the public key (default: OUT.pub).")
    ] = None,
    password_env: Annotated[
        str | None,
        typer.Option("--password-env", help="Name of an environment variable holding a password to encrypt the key."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing key files.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Generate an Ed25519 key pair (park tree heads, an enterprise's entry signatures, a witness)."""
    from carbonpark.ledger import signing

    public_path = public_out or out.with_name(out.name + ".pub")
    for path in (out, public_path):
        if path.exists() and not force:
            raise ValidationError(str(path), "a path that does not exist yet (or --force)", "an existing file")
    password = None
    if password_env:
        value = os.environ.get(password_env)
        if not value:
            raise ValidationError("--password-env", "the name of a non-empty environment variable", password_env)
        password = value.encode("utf-8")
    key = signing.generate_key()
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(signing.private_key_pem(key, password))
    public_pem = signing.public_key_pem(key)
    public_path.write_bytes(public_pem)
    doc = {
        "key_id": signing.key_id(key),
        "private_key_file": str(out),
        "public_key_file": str(public_path),
        "encrypted": password is not None,
        "public_key": public_pem.decode("ascii"),
    }
    if as_json:
        emit_json(doc)
    else:
        _out.print(f"key id      {doc['key_id']}\nprivate key {out}\npublic key  {public_path}")


def verify_inclusion(
    entry: Annotated[Path, typer.Option("--entry", help="File holding the raw entry bytes (the leaf).")],
    index: Annotated[int, typer.Option("--index", help="Leaf index of the entry (0-based).")],
    size: Annotated[int, typer.Option("--size", help="Tree size the root belongs to.")],
    root: Annotated[str, typer.Option("--root", help="Tree root, hex or base64.")],
    proof: ProofOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check an RFC 6962 inclusion proof (RFC 9162 §2.1.3.2) for an entry file."""
    from carbonpark.ledger import merkle

    data = entry.read_bytes()
    top = _hash(root, "--root")
    path = _proof(proof)
    doc = {
        "ok": merkle.verify_inclusion(data, index, size, path, top),
        "leaf_index": index,
        "tree_size": size,
        "leaf_hash": merkle.leaf_hash(data).hex(),
        "root": top.hex(),
        "proof_length": len(path),
    }
    _verdict(doc, as_json, "inclusion proof")


def verify_consistency(
    old_size: Annotated[int, typer.Option("--old-size", help="Size of the older tree.")],
    new_size: Annotated[int, typer.Option("--new-size", help="Size of the newer tree.")],
    old_root: Annotated[str, typer.Option("--old-root", help="Root of the older tree, hex or base64.")],
    new_root: Annotated[str, typer.Option("--new-root", help="Root of the newer tree, hex or base64.")],
    proof: ProofOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check an RFC 6962 consistency proof between two tree heads (RFC 9162 §2.1.4.2)."""
    from carbonpark.ledger import merkle

    first, second = _hash(old_root, "--old-root"), _hash(new_root, "--new-root")
    path = _proof(proof)
    doc = {
        "ok": merkle.verify_consistency(old_size, new_size, first, second, path),
        "old_size": old_size,
        "new_size": new_size,
        "old_root": first.hex(),
        "new_root": second.hex(),
        "proof_length": len(path),
    }
    _verdict(doc, as_json, "consistency proof")


def verify_head(
    head: Annotated[Path, typer.Argument(help="JSON file of a signed tree head (or a proof bundle holding one).")],
    public_key: Annotated[Path, typer.Option("--public-key", help="The park's public key (PEM).")],
    as_json: JsonOption = False,
) -> None:
    """Check the Ed25519 signature of a signed tree head (RFC 6962 §3.5 layout)."""
    from carbonpark.ledger import signing
    from carbonpark.ledger.signing import SignedTreeHead

    doc = _read_json(head, "signed tree head")
    if isinstance(doc, dict) and "signed_tree_head" in doc:
        doc = doc["signed_tree_head"]
    sth = SignedTreeHead.from_json(doc)
    public = signing.load_public_key(public_key.read_bytes())
    result = {
        "ok": signing.verify_tree_head(public, sth),
        "tree_size": sth.head.size,
        "timestamp_ms": sth.head.timestamp_ms,
        "root": sth.head.root.hex(),
        "key_id": sth.key_id,
        "trusted_key_id": signing.key_id(public),
    }
    _verdict(result, as_json, "signed tree head")


def check_proof(
    bundle: Annotated[Path, typer.Argument(help="Proof bundle JSON (from `carbonpark ledger proof RECORD`).")],
    public_key: Annotated[
        Path | None,
        typer.Option("--public-key", help="The park key you trust (PEM); without it the bundle's own key is used."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Verify a proof bundle offline: signed head, root, inclusion of the entry."""
    from carbonpark.ledger import signing
    from carbonpark.ledger.bundle import check_bundle

    trusted = signing.load_public_key(public_key.read_bytes()) if public_key else None
    result = check_bundle(_read_json(bundle, "proof bundle"), trusted)
    doc = result.to_json()
    if trusted is None:
        doc["warning"] = "no --public-key given: the bundle's own key was trusted; compare key_id with the park's"
    _verdict(doc, as_json, "proof bundle")


def rate_cmd(
    record: Annotated[
        Path | None,
        typer.Argument(help="YAML or JSON trust record (fields of TrustRecord); or use --db --org --year."),
    ] = None,
    db: DbOption = None,
    org: Annotated[str | None, typer.Option("--org", help="Enterprise (handle, credit code or name).")] = None,
    year: Annotated[int | None, typer.Option("--year", help="Reporting year.")] = None,
    lang: LangOption = "zh",
    as_json: JsonOption = False,
) -> None:
    """Rate an enterprise's data credit (碳信用评价) from its trust record, with the components.

    With ``--org`` and ``--year`` the trust record is computed from the stored data
    (docs/ledger.md §9); with a file it is read from it.
    """
    from carbonpark.ledger.rating import rate
    from carbonpark.services import ledger as service

    if org is not None or year is not None:
        if record is not None or org is None or year is None:
            raise ValidationError("--org/--year", "both --org and --year, and no trust-record file", (org, year))
        trust = service.trust_record(db, org, year)
    else:
        if record is None:
            raise ValidationError("RECORD", "a trust-record file, or --org and --year with --db", None)
        trust = _trust_from_file(record)
    rating = rate(trust)
    if as_json:
        emit_json(rating.to_json())
        return
    words = _words(lang)
    table = Table(
        title=words["rating_title"].format(
            ent=rating.enterprise, year=rating.year, score=rating.score, grade=rating.grade
        )
    )
    for i, column in enumerate(words["rating_columns"]):
        table.add_column(column, justify="left" if i == 0 else "right")
    for c in rating.components:
        name = words["indicators"].get(c.name, c.name)
        table.add_row(name, f"{c.value:g}", f"{c.weight:g}", f"{c.points:g}", f"{c.contribution:g}")
    _out.print(table)
    for reason in rating.reasons:
        _out.print(f"- {reason}")


def _trust_from_file(record: Path) -> TrustRecord:
    import yaml

    from carbonpark.ledger.rating import TrustRecord

    try:
        doc = yaml.safe_load(record.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValidationError(str(record), "a YAML or JSON trust record", str(exc).splitlines()[0]) from None
    if not isinstance(doc, dict):
        raise ValidationError(str(record), "a mapping of trust-record fields", doc)
    known = set(TrustRecord.__dataclass_fields__)
    unknown = sorted(set(doc) - known)
    if unknown:
        raise ValidationError(str(record), f"only the fields {sorted(known)}", unknown)
    try:
        return TrustRecord(**doc)
    except TypeError as exc:
        raise ValidationError(str(record), f"the fields {sorted(known)}", str(exc)) from None


KeyOption = Annotated[
    Path | None,
    typer.Option(
        "--key",
        help=f"The park's private key (PEM); default ${LEDGER_KEY_ENV} (PEM text or a file path).",
    ),
]


def sign_cmd(
    db: DbOption = None,
    key: KeyOption = None,
    interval: Annotated[
        float | None,
        typer.Option("--interval", help="Keep signing every INTERVAL seconds while the log grows (Ctrl-C stops)."),
    ] = None,
    count: Annotated[int | None, typer.Option("--count", help="With --interval: stop after COUNT heads.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Sign the current tree head with the park's key (kept outside the database) and store it."""
    from carbonpark.services import ledger as service

    park_key = service.load_park_key(key)
    heads: list[dict[str, Any]] = []
    last_size: int | None = None
    while True:
        if last_size is None or service.log_size(db) != last_size:
            sth = service.sign(db, park_key)
            last_size = sth.head.size
            heads.append(sth.to_json())
            if not as_json:
                _out.print(
                    f"signed tree head: size {sth.head.size}, root {sth.head.root.hex()}, key {sth.key_id[:16]}…"
                )
        if interval is None or (count is not None and len(heads) >= count):
            break
        time.sleep(interval)
    if as_json:
        emit_json(heads[-1] if interval is None else {"heads": heads})


def verify_cmd(
    db: DbOption = None,
    public_key: Annotated[
        Path | None,
        typer.Option("--public-key", help="Pin the park's public key (PEM); default: the park key in the environment."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="Findings shown in the table (all in --json).")] = 50,
    lang: LangOption = "zh",
    as_json: JsonOption = False,
) -> None:
    """Recompute every entry from the stored rows; check the log and its signed heads. Exit 1 on any finding."""
    from carbonpark.ledger import signing
    from carbonpark.services import ledger as service

    words = _words(lang)
    pinned = signing.load_public_key(public_key.read_bytes()) if public_key else None
    report = service.verify(db, pinned)
    if as_json:
        emit_json(report.to_json())
    else:
        verdict = (
            f"[green]{words['ok']}[/green]"
            if report.ok
            else f"[red]{words['findings'].format(n=len(report.findings))}[/red]"
        )
        _out.print(
            words["headline"].format(
                verdict=verdict, size=report.tree_size, signed=report.signed_tree_size, key=str(report.park_key_id)[:16]
            )
        )
        checked = ", ".join(f"{k} {v}" for k, v in report.checked.items())
        _out.print(f"{words['checked']}: {checked}")
        if report.findings:
            table = Table(*words["columns"])
            for f in report.findings[:limit]:
                table.add_row(f.kind, f.record, f.problem, "" if f.leaf_index is None else str(f.leaf_index))
            _out.print(table)
            if len(report.findings) > limit:
                _out.print(words["more"].format(n=len(report.findings) - limit))
        for warning in report.warnings:
            err_console.print(f"{words['warning']}: {warning}")
    if not report.ok:
        raise typer.Exit(1)


def proof_cmd(
    record: Annotated[str, typer.Argument(help="Handle of the attested record, e.g. 88.1234/meter.3@2025-01-01.")],
    db: DbOption = None,
    kind: Annotated[str | None, typer.Option("--kind", help="Entry kind, when the handle has several.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the bundle here instead of standard output.")] = None,
) -> None:
    """Export the self-contained proof bundle of RECORD (check it anywhere with `ledger check-proof`)."""
    from carbonpark.services import ledger as service

    bundle = service.proof_bundle(db, record, kind)
    if out is None:
        emit_json(bundle)
        return
    out.write_text(json.dumps(bundle, indent=2, ensure_ascii=False), encoding="utf-8")
    err_console.print(f"proof bundle of {record} (leaf {bundle['leaf_index']} of {bundle['tree_size']}) → {out}")


def key_register_cmd(
    org: Annotated[str, typer.Option("--org", help="Handle of the organisation the key belongs to.")],
    public_key: Annotated[Path, typer.Option("--public-key", help="Its Ed25519 public key (PEM).")],
    role: Annotated[str, typer.Option("--role", help="submitter, park, verifier or witness.")] = "submitter",
    replaces: Annotated[
        str | None, typer.Option("--replaces", help="Key id this key rotates out (it is revoked from here on).")
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register (or rotate in) an organisation's key: a `key_registered` entry in the log itself."""
    from carbonpark.ledger import signing
    from carbonpark.services import ledger as service

    public = signing.load_public_key(public_key.read_bytes())
    receipt = service.register_key(db, org, public, role, replaces)
    doc = {"key_id": signing.key_id(public), "organisation": org, "role": role, "leaf_index": receipt.index}
    emit_json(doc) if as_json else _out.print(f"registered key {doc['key_id']} for {org} at leaf {receipt.index}")


def key_revoke_cmd(
    org: Annotated[str, typer.Option("--org", help="Handle of the organisation the key belongs to.")],
    key_id: Annotated[str, typer.Option("--key-id", help="The key id (64 hex digits).")],
    reason: Annotated[str, typer.Option("--reason", help="Why (compromised, retired, …).")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Revoke a key from now on: a `key_revoked` entry in the log."""
    from carbonpark.services import ledger as service

    receipt = service.revoke_key(db, org, key_id, reason)
    doc = {"key_id": key_id, "organisation": org, "leaf_index": receipt.index}
    emit_json(doc) if as_json else _out.print(f"revoked key {key_id} of {org} at leaf {receipt.index}")


def key_list_cmd(db: DbOption = None, as_json: JsonOption = False) -> None:
    """The key register as replayed from the log."""
    from carbonpark.services import ledger as service

    keys = service.public_keys(db)
    if as_json:
        emit_json({"items": keys, "total": len(keys)})
        return
    table = Table("key id", "organisation", "role", "registered at", "revoked at")
    for k in keys:
        revoked = "" if k["revoked_at_leaf"] is None else str(k["revoked_at_leaf"])
        table.add_row(k["key_id"][:16] + "…", k["organisation"], k["role"], str(k["registered_at_leaf"]), revoked)
    _out.print(table)


def witness_cmd(
    server: Annotated[str, typer.Option("--server", help="Base URL of the park's API, e.g. http://127.0.0.1:8000.")],
    state: Annotated[
        Path, typer.Option("--state", help="The witness's own directory (its key, the heads it kept).")
    ] = Path("carbonpark-witness"),
    public_key: Annotated[
        Path | None, typer.Option("--public-key", help="The park key to trust (PEM); else pinned at first contact.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Fetch the latest signed head, check it extends the last one kept, co-sign and keep it (exit 1 on alarm).

    The API token comes from $CARBONPARK_TOKEN.
    """
    from carbonpark.ledger import signing
    from carbonpark.services import ledger as service

    pinned = signing.load_public_key(public_key.read_bytes()) if public_key else None
    result = service.witness(server, state, token=os.environ.get("CARBONPARK_TOKEN"), public_key=pinned)
    if as_json:
        emit_json(result.to_json())
    elif result.ok:
        _out.print(
            f"witnessed: size {result.tree_size} (kept {result.previous_size}), root {result.root}; state {state}"
        )
    else:
        err_console.print(f"[red]ALARM[/red]: {'; '.join(result.problems)} (kept head unchanged)")
    if not result.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the ledger commands to ``app`` as the ``ledger`` group."""
    ledger = new_app("Trusted attestation: the RFC 6962 log of carbon data, proofs, keys (docs/ledger.md).")
    ledger.command("keygen")(keygen)
    ledger.command("verify-inclusion")(verify_inclusion)
    ledger.command("verify-consistency")(verify_consistency)
    ledger.command("verify-head")(verify_head)
    ledger.command("check-proof")(check_proof)
    ledger.command("rate")(rate_cmd)
    ledger.command("sign")(sign_cmd)
    ledger.command("verify")(verify_cmd)
    ledger.command("proof")(proof_cmd)
    ledger.command("witness")(witness_cmd)
    keys = new_app("The key register kept in the log: register, rotate (--replaces), revoke, list.")
    keys.command("register")(key_register_cmd)
    keys.command("revoke")(key_revoke_cmd)
    keys.command("list")(key_list_cmd)
    ledger.add_typer(keys, name="key")
    app.add_typer(ledger, name="ledger")
