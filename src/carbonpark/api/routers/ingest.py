"""``POST /api/readings``: a device or gateway sends readings with its API key (issue 5 item 4).

The body is the MQTT JSON payload (``docs/ingest.md``): one reading
``{"meter", "ts", "value", "unit"}`` or a batch ``{"readings": [...]}`` (optional ``seq``).
The readings go through the one ingest pipeline in the request's transaction, limited to
the meters the key covers; the answer says what became of each:
``{"accepted", "duplicates", "quarantined": [{"index", "reason"}]}``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from carbonpark.api.deps import DbSession, Device
from carbonpark.ingest.mqtt import readings_from_document
from carbonpark.services.ingest import IngestScope, ingest_in_session

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["ingest"])

EXAMPLE = {"meter": "88.1234/meter.17", "ts": "2025-01-31T08:00:00+08:00", "value": 12.5, "unit": "kWh"}


@router.post("/readings", summary="Send readings (device API key in X-API-Key)")
def post_readings(
    s: DbSession,
    dev: Device,
    body: Annotated[
        dict[str, Any],
        Body(
            description="One reading {meter, ts, value, unit} or a batch {readings: [...]}, optionally with seq.",
            examples=[EXAMPLE, {"seq": 7, "readings": [EXAMPLE]}],
        ),
    ],
) -> dict[str, Any]:
    """Validate, convert and store the readings; answer accepted, duplicates and the quarantined indexes."""
    if dev.meter_ids:
        scope = IngestScope(meter_ids=frozenset(dev.meter_ids))
    else:
        scope = IngestScope(enterprise_ids=frozenset({dev.enterprise_id}) if dev.enterprise_id else frozenset())
    readings, marks = readings_from_document(body, stream=f"rest:{dev.actor}")
    return ingest_in_session(s, readings, channel="rest", scope=scope, marks=marks).answer()
