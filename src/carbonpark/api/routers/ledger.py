"""``/api/ledger``: signed tree heads, inclusion and consistency proofs, public keys (issue 6 item 4).

What a witness, an enterprise or a verifier needs to check the park's log without its
database (docs/ledger.md §4, §6):

- ``GET /api/ledger/head``: the latest signed tree head (RFC 6962 §3.5);
- ``GET /api/ledger/consistency?first=M&second=N``: the consistency proof between two sizes
  (RFC 6962 §2.1.2), with both roots; ``second`` defaults to the current size;
- ``GET /api/ledger/proof?record=R[&kind=K]``: the self-contained proof bundle of the latest
  entry of record R under the latest signed head (inclusion proof, head, park key);
- ``GET /api/ledger/keys``: the key register replayed from the log (park keys, and the keys
  of the organisations the caller may see).

Every route needs a logged-in caller. Heads and consistency proofs carry no record data; a
proof or a key of an organisation outside the caller's scope answers 404.

References
----------
RFC 6962 §2.1.1, §2.1.2, §3.5; RFC 9162 §8.2. Guide §3.2.2(2)1 (多边可信数据链).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from carbonpark.api.deps import DbSession, User
from carbonpark.services import ledger

__all__ = ["router"]

router = APIRouter(prefix="/api/ledger", tags=["ledger"])

_MAX_SIZE = 2**62


@router.get("/head", summary="The latest signed tree head")
def latest_head(s: DbSession, who: User) -> dict[str, Any]:
    """``tree_size``, ``timestamp_ms``, ``root`` and ``signature`` (base64), ``key_id`` (RFC 6962 §3.5 layout)."""
    return ledger.head_json(s)


@router.get("/consistency", summary="Consistency proof between two tree sizes")
def consistency_proof(
    s: DbSession,
    who: User,
    first: Annotated[int, Query(ge=0, le=_MAX_SIZE, description="The older tree size.")],
    second: Annotated[
        int | None, Query(ge=0, le=_MAX_SIZE, description="The newer tree size (default: the current size).")
    ] = None,
) -> dict[str, Any]:
    """``first``, ``second``, their roots and ``consistency_proof`` (base64 hashes, RFC 6962 §2.1.2)."""
    return ledger.consistency(s, first, second)


@router.get("/proof", summary="Inclusion proof bundle of a record")
def record_proof(
    s: DbSession,
    who: User,
    record: Annotated[str, Query(min_length=1, max_length=256, description="The record's handle.")],
    kind: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="Entry kind.")] = None,
) -> dict[str, Any]:
    """The proof bundle of docs/ledger.md §4 (check it offline with ``carbonpark ledger check-proof``)."""
    return ledger.scoped_proof(s, who, record, kind)


@router.get("/keys", summary="Public keys registered in the log")
def public_keys(s: DbSession, who: User) -> dict[str, Any]:
    """Each key's id, organisation, role, PEM, and the leaves that registered and revoked it."""
    items = ledger.scoped_keys(s, who)
    return {"items": items, "total": len(items)}
