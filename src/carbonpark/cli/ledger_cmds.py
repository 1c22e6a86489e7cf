"""CLI commands of the ledger capability that need no database (``carbonpark ledger …``).

``keygen``, ``verify-inclusion``, ``verify-consistency``, ``verify-head``, ``check-proof`` and
``rate`` work on files only: a third party can run them on a machine without the park's
database (docs/ledger.md). A verification that fails prints its result and exits 1.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.table import Table

from carbonpark.cli.common import emit_json, new_app
from carbonpark.errors import ValidationError
from carbonpark.ledger import merkle, signing
from carbonpark.ledger.bundle import check_bundle
from carbonpark.ledger.rating import TrustRecord, rate
from carbonpark.ledger.signing import SignedTreeHead

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


def _hash(text: str, field: str) -> bytes:
    """A 32-byte hash given as 64 hex digits or as standard base64."""
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
    trusted = signing.load_public_key(public_key.read_bytes()) if public_key else None
    result = check_bundle(_read_json(bundle, "proof bundle"), trusted)
    doc = result.to_json()
    if trusted is None:
        doc["warning"] = "no --public-key given: the bundle's own key was trusted; compare key_id with the park's"
    _verdict(doc, as_json, "proof bundle")


def rate_cmd(
    record: Annotated[Path, typer.Argument(help="YAML or JSON trust record (fields of TrustRecord, docs/ledger.md).")],
    as_json: JsonOption = False,
) -> None:
    """Rate an enterprise's data credit (碳信用评价) from its trust record, with the components."""
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
        trust = TrustRecord(**doc)
    except TypeError as exc:
        raise ValidationError(str(record), f"the fields {sorted(known)}", str(exc)) from None
    rating = rate(trust)
    if as_json:
        emit_json(rating.to_json())
        return
    table = Table(title=f"{rating.enterprise} {rating.year}: {rating.score:g} ({rating.grade})")
    for column in ("indicator", "value", "weight", "points", "contribution"):
        table.add_column(column, justify="left" if column == "indicator" else "right")
    for c in rating.components:
        table.add_row(c.name, f"{c.value:g}", f"{c.weight:g}", f"{c.points:g}", f"{c.contribution:g}")
    _out.print(table)
    for reason in rating.reasons:
        _out.print(f"- {reason}")


def register(app: typer.Typer) -> None:
    """Add the ledger commands to ``app`` as the ``ledger`` group."""
    ledger = new_app("Trusted attestation: the RFC 6962 log of carbon data, proofs, keys (docs/ledger.md).")
    ledger.command("keygen")(keygen)
    ledger.command("verify-inclusion")(verify_inclusion)
    ledger.command("verify-consistency")(verify_consistency)
    ledger.command("verify-head")(verify_head)
    ledger.command("check-proof")(check_proof)
    ledger.command("rate")(rate_cmd)
    app.add_typer(ledger, name="ledger")
