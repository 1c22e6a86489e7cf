"""Readings upload from the dashboard: a CSV/XLSX file through the one ingest pipeline (issue 14 item 3).

The file is read by :func:`carbonpark.ingest.files.open_readings` (long or wide layout) and sent
in chunks to :func:`carbonpark.services.ingest.ingest_readings` with ``channel="file"`` and the
uploader's scope (an enterprise user may write its own meters only; others are quarantined as
``out_of_scope``). The periods the accepted readings touch are then re-aggregated and the
stored accounting runs re-run (:func:`carbonpark.services.activity.reaggregate_late`), so the
emissions shown afterwards include the upload.

References
----------
.. [1] 工业互联网双碳园区建设指南 §4.1 (数据采集), §5.2 (核算).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from carbonpark.errors import PermissionDenied
from carbonpark.ingest.files import open_readings
from carbonpark.ingest.model import RawReading
from carbonpark.services.access import Principal
from carbonpark.services.activity import park_timezone, reaggregate_late
from carbonpark.services.ingest import FILE_CHUNK, IngestResult, IngestScope, ingest_readings
from carbonpark.store import session
from carbonpark.store.registry import resolve
from carbonpark.store.schema import Meter
from carbonpark.times import local_iso

__all__ = ["DAY_MS", "import_file"]

#: One day [ms]: the step of the timestamps handed to the re-aggregation (one per day is enough
#: to touch every daily or monthly bucket between the first and last accepted reading).
DAY_MS = 86_400_000


def _scope(who: Principal) -> IngestScope | None:
    if who.role == "park_admin":
        return None
    if who.role == "enterprise" and who.enterprise_id is not None:
        return IngestScope(enterprise_ids=frozenset({who.enterprise_id}))
    raise PermissionDenied(f"expected a park_admin or enterprise user to upload readings, got {who.role}")


def import_file(db: str | None, path: Path, who: Principal, chunk: int = FILE_CHUNK) -> dict[str, Any]:
    """Import ``path`` as ``who``; re-aggregate and re-account what the accepted readings touch.

    Returns
    -------
    dict
        ``layout``, ``rows`` (data rows in the file), the pipeline counts (``sent``, ``accepted``,
        ``duplicates``, ``corrected``, ``pending``), ``quarantined`` (one dict per quarantined
        reading: ``index``, ``line``, ``meter``, ``ts``, ``value``, ``reason``), ``meters`` (the
        meters with accepted readings: ``handle``, ``code``, ``first``, ``last``) and
        ``reaccounted`` (the accounting runs re-run).
    """
    scope = _scope(who)
    rf = open_readings(path)
    total = IngestResult()
    batch: list[RawReading] = []
    sent: list[tuple[int, RawReading]] = []
    for line, reading in rf.readings():
        batch.append(reading)
        sent.append((line, reading))
        if len(batch) >= chunk:
            total.add(ingest_readings(db, batch, channel="file", scope=scope), offset=total.sent)
            batch = []
    if batch:
        total.add(ingest_readings(db, batch, channel="file", scope=scope), offset=total.sent)
    bad = {i for i, _ in total.quarantined}
    quarantined = [
        {
            "index": i,
            "line": sent[i][0],
            "meter": str(sent[i][1].meter),
            "ts": str(sent[i][1].ts),
            "value": str(sent[i][1].value),
            "reason": reason,
        }
        for i, reason in total.quarantined
    ]
    meters: dict[int, dict[str, Any]] = {}
    changes: dict[int, list[int]] = {}
    with session(db) as s:
        tz = park_timezone(s)
        refs = {str(r.meter) for i, (_, r) in enumerate(sent) if i not in bad and r.meter is not None}
        for ref in sorted(refs):
            try:
                meter = resolve(s, Meter, ref)
            except Exception:  # a reference the pipeline resolved differently: nothing to re-aggregate
                continue
            meters[meter.id] = {"handle": meter.handle, "code": meter.code}
        if total.first_ts_ms is not None and total.last_ts_ms is not None and meters:
            stamps = [*list(range(total.first_ts_ms, total.last_ts_ms + 1, DAY_MS)), total.last_ts_ms]
            changes = {mid: stamps for mid in meters}
            for info in meters.values():
                info["first"] = local_iso(total.first_ts_ms, tz)
                info["last"] = local_iso(total.last_ts_ms, tz)
    refreshed = reaggregate_late(db, changes) if changes else {"reaccounted": [], "rewritten": 0}
    return {
        "layout": rf.layout,
        "rows": rf.data_rows,
        **{k: v for k, v in total.to_dict().items() if k != "quarantined"},
        "quarantined": quarantined,
        "meters": list(meters.values()),
        "rewritten": refreshed.get("rewritten", 0),
        "reaccounted": refreshed.get("reaccounted", []),
    }
