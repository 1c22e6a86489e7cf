"""Field-protocol connectors wired to the ingest pipeline: OPC UA, Modbus TCP, HJ 212.

The connectors of :mod:`carbonpark.ingest` parse their protocol and hand batches to a
sink; here the sink is the one pipeline (:func:`carbonpark.services.ingest.make_sink`),
so field readings get the same validation, units, de-duplication and quarantine as MQTT,
files and REST. A map file (YAML) names the meters: one file may hold the ``opcua``,
``modbus`` and ``hj212`` sections (``docs/field-protocols.md``).

References
----------
The guide §3.2.2 (collection layer), §4.1, appendix indicator 5 (standard protocols: OPC UA …);
HJ 212-2017; Modbus Application Protocol V1.1b3; OPC 10000-4.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from carbonpark.errors import ValidationError
from carbonpark.ingest.hj212 import Hj212Listener, Hj212Map
from carbonpark.ingest.modbus import ModbusPoller, parse_modbus_map
from carbonpark.ingest.opcua import OpcUaSubscriber, parse_opcua_map
from carbonpark.services.ingest import IngestResult, make_sink, open_alarms, raise_alarm
from carbonpark.store import session

__all__ = ["FieldRun", "load_map", "run_hj212", "run_modbus", "run_opcua"]


@dataclass
class FieldRun:
    """Totals of a connector run: the pipeline's counts over every batch, plus connector facts."""

    totals: IngestResult = field(default_factory=IngestResult)
    batches: int = 0
    facts: dict[str, Any] = field(default_factory=dict)

    def on_batch(self, result: IngestResult | None) -> None:
        """Add one batch's result."""
        if result is not None:
            self.totals.add(result, self.totals.sent)
            self.batches += 1

    def handler(self, report: Callable[[FieldRun], None] | None) -> Callable[[IngestResult | None], None]:
        """A connector's ``on_batch``: add the result, then tell ``report`` (a progress bar)."""

        def batch(result: IngestResult | None) -> None:
            self.on_batch(result)
            if report:
                report(self)

        return batch

    def to_dict(self) -> dict[str, Any]:
        """Counts for ``--json``."""
        reasons: dict[str, int] = {}
        for _, reason in self.totals.quarantined:
            reasons[reason] = reasons.get(reason, 0) + 1
        return {
            **self.facts,
            "batches": self.batches,
            "sent": self.totals.sent,
            "accepted": self.totals.accepted,
            "duplicates": self.totals.duplicates,
            "corrected": self.totals.corrected,
            "pending_corrections": self.totals.pending,
            "quarantined": len(self.totals.quarantined),
            "quarantined_by_reason": dict(sorted(reasons.items())),
            "alarms": len(self.totals.alarms),
        }


def load_map(path: Path, section: str) -> Any:
    """The ``section`` (``opcua``, ``modbus``, ``hj212``) of a YAML map file."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValidationError(str(path), "a YAML map file", str(exc).splitlines()[0]) from None
    if not isinstance(doc, dict) or section not in doc:
        raise ValidationError(str(path), f"a YAML mapping with a '{section}' section", type(doc).__name__)
    return doc[section]


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread, or no signals here
            loop.add_signal_handler(sig, stop.set)


def run_opcua(
    db: str | None,
    endpoint: str,
    map_path: Path,
    *,
    until_idle: float | None = None,
    on_batch: Callable[[FieldRun], None] | None = None,
) -> FieldRun:
    """Subscribe to the mapped OPC UA nodes and store their values until stopped or idle."""
    nodes, interval = parse_opcua_map(load_map(map_path, "opcua"))
    run = FieldRun(facts={"endpoint": endpoint, "nodes": len(nodes)})
    batch = run.handler(on_batch)

    async def main() -> None:
        stop = asyncio.Event()
        _stop_on_signals(stop)
        sub = OpcUaSubscriber(make_sink(db, "opcua"), endpoint, nodes, publishing_interval_ms=interval, on_batch=batch)
        await sub.run(until_idle=until_idle, stop=stop)
        run.facts["notifications"] = sub.received

    asyncio.run(main())
    return run


def _device_alarm(db: str | None, device: str, message: str) -> None:
    """One open ``device_unreachable`` alarm per device (not one per failed cycle)."""
    with session(db) as s:
        if not open_alarms(s, "device_unreachable", device):
            raise_alarm(s, "device_unreachable", message, subject=device, severity="warning")


def run_modbus(
    db: str | None,
    map_path: Path,
    *,
    cycles: int | None = None,
    on_batch: Callable[[FieldRun], None] | None = None,
) -> FieldRun:
    """Poll the mapped Modbus TCP devices every ``interval_s`` (on the clock grid) until stopped."""
    devices, interval = parse_modbus_map(load_map(map_path, "modbus"))
    run = FieldRun(facts={"devices": len(devices), "interval_s": interval})
    batch = run.handler(on_batch)

    async def main() -> None:
        stop = asyncio.Event()
        _stop_on_signals(stop)
        poller = ModbusPoller(
            make_sink(db, "modbus"),
            devices,
            interval_s=interval,
            on_batch=batch,
            on_error=lambda device, message: _device_alarm(db, device, message),
        )
        await poller.run(cycles=cycles, stop=stop)
        run.facts.update(cycles=poller.cycles, read_errors=poller.errors)

    asyncio.run(main())
    return run


def run_hj212(
    db: str | None,
    map_path: Path,
    *,
    host: str = "0.0.0.0",
    port: int = 9212,
    until_idle: float | None = None,
    on_batch: Callable[[FieldRun], None] | None = None,
    on_listening: Callable[[int], None] | None = None,
) -> FieldRun:
    """Listen for HJ 212-2017 packets from CEMS and monitoring stations until stopped or idle."""
    mapping = Hj212Map(load_map(map_path, "hj212"))
    run = FieldRun(facts={"host": host, "mapped": len(mapping)})
    batch = run.handler(on_batch)

    async def main() -> None:
        stop = asyncio.Event()
        _stop_on_signals(stop)
        listener = Hj212Listener(make_sink(db, "hj212"), mapping, host=host, port=port, on_batch=batch)
        await listener.start()
        run.facts["port"] = listener.port
        if on_listening:
            on_listening(listener.port)
        loop = asyncio.get_running_loop()
        try:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=0.5)
                if until_idle is not None and loop.time() - listener.last_packet > until_idle:
                    break
        finally:
            await listener.stop()
        run.facts["packets"] = listener.packets

    asyncio.run(main())
    return run
