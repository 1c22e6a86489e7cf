"""Uploads from the dashboard: readings and activity data, CSV or XLSX, with a result page (issue 14 item 3).

**Readings.** The file is read by :func:`carbonpark.ingest.files.open_readings` (long or wide layout) and sent
in chunks to :func:`carbonpark.services.ingest.ingest_readings` with ``channel="file"`` and the
uploader's scope (an enterprise user may write its own meters only; others are quarantined as
``out_of_scope``). Each chunk queues the ranges it stored; one drain after the last chunk
(:func:`carbonpark.services.ingest.drain_dirty`) re-aggregates them and re-runs the stored accounting
runs, so the emissions shown afterwards include the upload.

**Activity data.** The activity file of ``carbonpark account`` (plus a ``period`` column) goes to
:func:`carbonpark.services.web_activity.import_activity_file`: good lines are stored as hand-entered
activity data, bad ones quarantined with a reason, and the accounting runs they touch re-run.

**Result pages.** :func:`readings_sections` and :func:`activity_sections` turn a result into the
page sections every other page uses (figures, tables); the sections are kept for an hour for their
uploader (:func:`keep`, at most :data:`KEEP` results per process) so that each table exports to Excel
like the tables of the other pages.

References
----------
.. [1] 工业互联网双碳园区建设指南 §4.1 (数据采集), §5.2 (核算).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from carbonpark.accounting.activity_file import REQUIRED
from carbonpark.errors import PermissionDenied
from carbonpark.ingest.files import open_readings
from carbonpark.ingest.model import RawReading
from carbonpark.services.access import Principal
from carbonpark.services.activity import park_timezone
from carbonpark.services.ingest import FILE_CHUNK, IngestResult, IngestScope, drain_dirty, ingest_readings
from carbonpark.store import session
from carbonpark.store.registry import resolve
from carbonpark.store.schema import Meter
from carbonpark.times import local_iso
from carbonpark.web.pages import Action, Kpis, Link, Section, Table

__all__ = [
    "ACTIVITY_TEMPLATE",
    "KEEP",
    "READING_COUNTS",
    "activity_sections",
    "activity_template",
    "import_file",
    "keep",
    "kept",
    "readings_sections",
]


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
            total.add(ingest_readings(db, batch, channel="file", scope=scope, reaggregate=False), offset=total.sent)
            batch = []
    if batch:
        total.add(ingest_readings(db, batch, channel="file", scope=scope, reaggregate=False), offset=total.sent)
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
    refreshed = drain_dirty(db)  # once for the whole file, not once per chunk
    meters: dict[int, dict[str, Any]] = {}
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
            for info in meters.values():
                info["first"] = local_iso(total.first_ts_ms, tz)
                info["last"] = local_iso(total.last_ts_ms, tz)
    return {
        "layout": rf.layout,
        "rows": rf.data_rows,
        **{k: v for k, v in total.to_dict().items() if k != "quarantined"},
        "quarantined": quarantined,
        "meters": list(meters.values()),
        "rewritten": refreshed.get("rewritten", 0),
        "reaccounted": refreshed.get("reaccounted", []),
    }


# ------------------------------------------------------------------------------------ result pages

#: The readings pipeline's counts the result page shows (message ``upload.<count>``).
READING_COUNTS: tuple[str, ...] = ("rows", "sent", "accepted", "duplicates", "corrected")
#: Results kept per process for their tables' Excel export, and for how long [s].
KEEP = 64
KEEP_SECONDS = 3600.0
_KEPT: OrderedDict[str, tuple[str, float, list[Section]]] = OrderedDict()
_KEPT_LOCK = threading.Lock()


def keep(who: Principal, sections: list[Section]) -> str:
    """Keep a result's sections for ``who``; the token names them in the export link."""
    token = secrets.token_urlsafe(16)
    with _KEPT_LOCK:
        _KEPT[token] = (who.name, time.monotonic(), sections)
        while len(_KEPT) > KEEP:
            _KEPT.popitem(last=False)
    return token


def kept(who: Principal, token: str) -> list[Section] | None:
    """The sections kept under ``token`` if ``who`` uploaded them within :data:`KEEP_SECONDS`."""
    with _KEPT_LOCK:
        hit = _KEPT.get(token)
    if hit is None or hit[0] != who.name or time.monotonic() - hit[1] > KEEP_SECONDS:
        return None
    return hit[2]


def _runs_table(result: dict[str, Any]) -> Table:
    runs = [*result.get("reaccounted", []), *result.get("accounted", [])]
    return Table(
        "upload.reaccounted",
        ["col.org", "col.period"],
        [
            [
                Link(str(r["org"]), "/web/accounting?" + urlencode({"org": r["org"], "year": str(r["period"])[:4]})),
                r["period"],
            ]
            for r in runs
        ],
    )


def _more(kind: str) -> list[Section]:
    return [Action("action.upload_more", f"/web/upload#{kind}", "upload-more"), Action("nav.overview", "/web/overview")]


def readings_sections(result: dict[str, Any]) -> list[Section]:
    """The result page of a readings upload: counts, meters written, quarantined readings, runs re-run."""
    counts = [(f"upload.{k}", result[k], "") for k in READING_COUNTS]
    return [
        Kpis([*counts, ("upload.quarantined", len(result["quarantined"]), "")]),
        Table(
            "upload.meters",
            ["col.meter", "col.code", "col.first", "col.last"],
            [[m["handle"], m["code"], m.get("first"), m.get("last")] for m in result["meters"]],
        ),
        Table(
            "upload.quarantined_rows",
            ["col.line", "col.meter", "col.time", "col.value", "col.reason"],
            [[q["line"], q["meter"], q["ts"], q["value"], q["reason"]] for q in result["quarantined"]],
        ),
        _runs_table(result),
        *_more("readings"),
    ]


def activity_sections(result: dict[str, Any]) -> list[Section]:
    """The result page of an activity-data upload: counts, data stored, quarantined lines, runs re-run."""
    return [
        Kpis(
            [
                ("upload.rows", result["rows"], ""),
                ("upload.accepted", result["accepted"], ""),
                ("upload.replaced", result["replaced"], ""),
                ("upload.quarantined", len(result["quarantined"]), ""),
            ]
        ),
        Table(
            "upload.stored_activity",
            ["col.line", "col.enterprise", "col.source", "col.activity", "col.amount", "col.unit", "col.period"],
            [
                [r["line"], r["enterprise"], r["source"], r["activity"], r["amount"], r["unit"], r["period"]]
                for r in result["stored"]
            ],
        ),
        Table(
            "upload.quarantined_rows",
            [
                "col.line",
                "col.enterprise",
                "col.source",
                "col.activity",
                "col.amount",
                "col.unit",
                "col.period",
                "col.reason",
                "col.detail",
            ],
            [
                [
                    q["line"],
                    q["enterprise"],
                    q["source"],
                    q["activity"],
                    q["amount"],
                    q["unit"],
                    q["period"],
                    q["reason"],
                    q["detail"],
                ]
                for q in result["quarantined"]
            ],
        ),
        _runs_table(result),
        *_more("activity"),
    ]


#: The activity upload's columns as the template file offers them (the file contract has more, optional).
ACTIVITY_TEMPLATE: tuple[str, ...] = (*REQUIRED, "enterprise", "period")


def activity_template(enterprise: str, year: int) -> str:
    """A CSV to start an activity-data upload from: the usual columns and two example lines.

    The examples (2.5 t of diesel for a forklift fleet in January, 0.012 t of HFC-134a refilled in a
    year) show a monthly and a yearly datum; ``enterprise`` is the uploader's own (empty = the park).
    """
    lines = [
        ",".join(ACTIVITY_TEMPLATE),
        f"forklift fleet,diesel,2.5,t,{enterprise},{year}-01",
        f"chiller refrigerant refill,hfc_134a,0.012,t,{enterprise},{year}",
    ]
    return "\n".join(lines) + "\n"
