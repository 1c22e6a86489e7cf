"""OPC UA subscription to node ids mapped to meters (asyncua).

The client subscribes to every mapped node (one subscription, data-change notifications
with the publishing interval given), turns each notification into a :class:`RawReading`
stamped with the value's *source* timestamp (the device's time of the value; the server
timestamp when the source gives none), and hands them to the sink in batches (every
``flush_s`` seconds or ``batch_size`` readings), off the event loop. The status code of a
value that is not Good becomes the quality bit ``device_flag``.

Reconnects are asyncua's own (``Client(auto_reconnect=True)``: exponential backoff up to
``reconnect_max_s``, the session reactivated or recreated, the subscriptions recreated).
A recreated subscription sends every node's current value again; the pipeline counts the
ones it already has as duplicates, so nothing is stored twice.

Map file section::

    opcua:
      publishing_interval_ms: 1000
      nodes:
        "ns=2;s=Plant1.Meter01.Energy": {meter: chem1-E-main, unit: kWh}
        "ns=2;i=1007": chem1-G-main              # unit: the meter's own

References
----------
OPC 10000-4 (Services: CreateSubscription, CreateMonitoredItems), OPC 10000-4 §7.39
(StatusCode: Good, Uncertain, Bad); the guide §3.2.2 and appendix indicator 5 (OPC UA as
a standard protocol of the collection layer).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from asyncua import Client, ua

from carbonpark.errors import ValidationError
from carbonpark.ingest.model import RawReading, Sink
from carbonpark.quality.flags import QualityFlag

__all__ = ["NodeTarget", "OpcUaSubscriber", "parse_opcua_map"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NodeTarget:
    """The meter a node feeds and the unit of its values (``None``: the meter's own)."""

    meter: str
    unit: str | None = None


def parse_opcua_map(doc: dict[str, Any]) -> tuple[dict[str, NodeTarget], int]:
    """Node id → target and the publishing interval [ms] from the ``opcua`` section of a map file."""
    if not isinstance(doc, dict) or not isinstance(doc.get("nodes"), dict) or not doc["nodes"]:
        raise ValidationError("opcua", "a mapping with nodes: {node id: meter}", doc)
    nodes: dict[str, NodeTarget] = {}
    for node_id, spec in doc["nodes"].items():
        try:
            ua.NodeId.from_string(str(node_id))
        except Exception:
            raise ValidationError(
                f"opcua.nodes[{node_id!r}]", "a node id such as ns=2;s=Meter1.Energy", node_id
            ) from None
        if isinstance(spec, str | int):
            nodes[str(node_id)] = NodeTarget(str(spec))
        elif isinstance(spec, dict) and "meter" in spec:
            nodes[str(node_id)] = NodeTarget(str(spec["meter"]), spec.get("unit"))
        else:
            raise ValidationError(f"opcua.nodes[{node_id!r}]", "a meter, or {meter, unit}", spec)
    interval = int(doc.get("publishing_interval_ms", 1000))
    if interval <= 0:
        raise ValidationError("opcua.publishing_interval_ms", "a positive number of milliseconds", interval)
    return nodes, interval


def _epoch_ms(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # OPC UA DateTime is UTC
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


class _Handler:
    def __init__(self, owner: OpcUaSubscriber) -> None:
        self.owner = owner

    def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
        self.owner._received(node, val, data)

    def status_change_notification(self, status: Any) -> None:
        _log.warning("OPC UA subscription status change: %s", status)


class OpcUaSubscriber:
    """Subscribe to mapped nodes and store their values through the sink.

    Parameters
    ----------
    sink
        The ingest pipeline.
    endpoint
        ``opc.tcp://host:port/path``.
    nodes
        Node id → :class:`NodeTarget`.
    publishing_interval_ms
        Subscription publishing interval [ms].
    flush_s, batch_size
        A batch goes to the sink after ``flush_s`` seconds or ``batch_size`` readings.
    reconnect_max_s
        Longest wait between reconnect attempts [s].
    on_batch
        Called with each sink result.
    """

    def __init__(
        self,
        sink: Sink,
        endpoint: str,
        nodes: dict[str, NodeTarget],
        *,
        publishing_interval_ms: int = 1000,
        flush_s: float = 1.0,
        batch_size: int = 1000,
        reconnect_max_s: float = 30.0,
        timeout_s: float = 4.0,
        on_batch: Callable[[Any], None] | None = None,
    ) -> None:
        if not endpoint.startswith("opc.tcp://"):
            raise ValidationError("--endpoint", "an opc.tcp://host:port URL", endpoint)
        self.sink = sink
        self.endpoint = endpoint
        self.nodes = nodes
        self.publishing_interval_ms = publishing_interval_ms
        self.flush_s = flush_s
        self.batch_size = batch_size
        self.on_batch = on_batch or (lambda result: None)
        self.client = Client(endpoint, timeout=timeout_s, auto_reconnect=True, reconnect_max_delay=reconnect_max_s)
        self.received = 0
        self.last_received = 0.0
        self._buffer: list[RawReading] = []
        self._by_node: dict[str, NodeTarget] = {}
        self._wake = asyncio.Event()

    def _received(self, node: Any, val: Any, data: Any) -> None:
        key = node.nodeid.to_string()
        target = self._by_node.get(key)
        if target is None:
            return
        dv = data.monitored_item.Value
        ts = _epoch_ms(dv.SourceTimestamp) or _epoch_ms(dv.ServerTimestamp)
        status = dv.StatusCode
        good = status is None or status.is_good()
        self._buffer.append(
            RawReading(
                meter=target.meter,
                ts=ts,
                value=val,
                unit=target.unit,
                quality=0 if good else int(QualityFlag.DEVICE_FLAG),
                raw=f"opcua {self.endpoint} {key} = {val!r} @ {dv.SourceTimestamp} status {status}",
            )
        )
        self.received += 1
        self.last_received = asyncio.get_running_loop().time()
        if len(self._buffer) >= self.batch_size:
            self._wake.set()

    async def flush(self) -> Any:
        """Send the buffered readings to the sink (returns its result, or ``None`` when empty)."""
        if not self._buffer:
            return None
        batch, self._buffer = self._buffer, []
        result = await asyncio.to_thread(self.sink, batch, ())
        self.on_batch(result)
        return result

    async def start(self) -> None:
        """Connect and subscribe to every mapped node."""
        await self.client.connect()
        handles = []
        for node_id, target in self.nodes.items():
            node = self.client.get_node(node_id)
            self._by_node[node.nodeid.to_string()] = target
            handles.append(node)
        subscription = await self.client.create_subscription(self.publishing_interval_ms, _Handler(self))
        await subscription.subscribe_data_change(handles)
        self.last_received = asyncio.get_running_loop().time()

    async def run(self, *, until_idle: float | None = None, stop: asyncio.Event | None = None) -> None:
        """Receive and store until ``stop`` is set, or nothing arrived for ``until_idle`` seconds."""
        stop = stop or asyncio.Event()
        await self.start()
        loop = asyncio.get_running_loop()
        try:
            while not stop.is_set():
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.flush_s)
                await self.flush()
                if until_idle is not None and loop.time() - self.last_received > until_idle:
                    break
        finally:
            await self.flush()
            await self.client.disconnect()
