"""Modbus TCP polling of meters (pymodbus), by register maps per meter model.

A *model* is a named set of points: register address, number of registers, data type,
scale, byte and word order, register table (holding or input) and unit. The packaged
models are in ``ingest/data/modbus-models.yaml``; a map file may add its own. A *device*
is one Modbus server (host, port, unit id) of a model, and names the meter each point
feeds::

    modbus:
      interval_s: 60
      models: {…}                      # optional, added to the packaged ones
      devices:
        - {host: 10.0.0.21, port: 502, unit: 1, model: generic_float_meter,
           points: {energy_import_kwh: chem1-E-main}}

Every cycle starts on the clock grid of ``interval_s`` (hh:mm:00 for one minute) and the
readings are stamped with that grid time, so that a poller's latency does not show as
timestamp skew; a reading stamped with the wall clock instead would drift. A device that
does not answer is retried on the next cycle (pymodbus reconnects with backoff) and
reported to ``on_error`` (the service raises a ``device_unreachable`` alarm): nothing was
received, so nothing is quarantined; a register that decodes to NaN is a received value
and is quarantined by the pipeline as ``bad_value``.

References
----------
Modbus Application Protocol Specification V1.1b3 (function codes 03 read holding
registers, 04 read input registers; big-endian registers); Modbus Messaging on TCP/IP
Implementation Guide V1.0b; the guide §3.2.2 (collection layer), appendix indicator 5.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.resources import files
from typing import Any

import yaml
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from carbonpark.errors import ValidationError
from carbonpark.ingest.model import RawReading, Sink

__all__ = ["Device", "ModbusPoller", "Point", "decode", "load_models", "parse_modbus_map"]

_TYPES = {
    "int16": ("INT16", 1),
    "uint16": ("UINT16", 1),
    "int32": ("INT32", 2),
    "uint32": ("UINT32", 2),
    "int64": ("INT64", 4),
    "uint64": ("UINT64", 4),
    "float32": ("FLOAT32", 2),
    "float64": ("FLOAT64", 4),
}


@dataclass(frozen=True)
class Point:
    """One value of a meter model's register map."""

    name: str
    address: int
    count: int
    type: str
    scale: float = 1.0
    byte_order: str = "big"
    word_order: str = "big"
    table: str = "holding"
    unit: str | None = None

    @classmethod
    def from_dict(cls, name: str, spec: dict[str, Any], where: str) -> Point:
        """Validate one point of a YAML register map."""
        if not isinstance(spec, dict):
            raise ValidationError(where, "a mapping with address, type …", spec)
        kind = str(spec.get("type", "uint16")).lower()
        if kind not in _TYPES:
            raise ValidationError(f"{where}.type", f"one of {sorted(_TYPES)}", kind)
        count = int(spec.get("count", _TYPES[kind][1]))
        if count != _TYPES[kind][1]:
            raise ValidationError(f"{where}.count", f"{_TYPES[kind][1]} registers for {kind}", count)
        for key in ("byte_order", "word_order"):
            if spec.get(key, "big") not in {"big", "little"}:
                raise ValidationError(f"{where}.{key}", "big or little", spec.get(key))
        if spec.get("table", "holding") not in {"holding", "input"}:
            raise ValidationError(f"{where}.table", "holding or input", spec.get("table"))
        address = spec.get("address")
        if not isinstance(address, int) or not 0 <= address <= 65535:
            raise ValidationError(f"{where}.address", "a register address 0–65535", address)
        return cls(
            name=name,
            address=address,
            count=count,
            type=kind,
            scale=float(spec.get("scale", 1.0)),
            byte_order=str(spec.get("byte_order", "big")),
            word_order=str(spec.get("word_order", "big")),
            table=str(spec.get("table", "holding")),
            unit=spec.get("unit"),
        )


def decode(registers: Sequence[int], point: Point) -> float:
    """The value of ``point`` from its raw registers: byte and word order, type, then scale.

    ``byte_order="little"`` swaps the two bytes inside each register, ``word_order="little"``
    puts the least significant register first.

    >>> p = Point("e", 0, 2, "uint32", scale=0.01, word_order="little")
    >>> decode([0x5678, 0x1234], p)  # 0x12345678 = 305 419 896 × 0.01
    3054198.96
    """
    regs = [int(r) & 0xFFFF for r in registers]
    if len(regs) != point.count:
        raise ValidationError(f"point {point.name}", f"{point.count} registers", len(regs))
    if point.byte_order == "little":
        regs = [((r & 0xFF) << 8) | (r >> 8) for r in regs]
    data_type = AsyncModbusTcpClient.DATATYPE[_TYPES[point.type][0]]
    raw = AsyncModbusTcpClient.convert_from_registers(regs, data_type, word_order=point.word_order)  # type: ignore[arg-type]
    value = float(raw) * point.scale  # type: ignore[arg-type]
    return round(value, 12) if math.isfinite(value) else value


@lru_cache(maxsize=1)
def _packaged_models() -> dict[str, Any]:
    text = files("carbonpark.ingest").joinpath("data/modbus-models.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text) or {}


def load_models(extra: dict[str, Any] | None = None) -> dict[str, dict[str, Point]]:
    """Packaged register maps plus those of a map file (same name: the map file's wins)."""
    merged = {**_packaged_models(), **(extra or {})}
    return {
        model: {name: Point.from_dict(name, spec, f"models.{model}.{name}") for name, spec in points.items()}
        for model, points in merged.items()
    }


@dataclass
class Device:
    """A Modbus TCP server and the meters its points feed."""

    host: str
    port: int
    unit: int
    model: str
    points: dict[str, str]  # point name → meter ref
    registers: dict[str, Point] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """``host:port/unit``."""
        return f"{self.host}:{self.port}/{self.unit}"


def parse_modbus_map(doc: dict[str, Any]) -> tuple[list[Device], float]:
    """Devices and poll interval [s] from the ``modbus`` section of a map file."""
    if not isinstance(doc, dict) or not isinstance(doc.get("devices"), list):
        raise ValidationError("modbus", "a mapping with devices: [ … ]", doc)
    models = load_models(doc.get("models"))
    devices = []
    for n, d in enumerate(doc["devices"]):
        where = f"modbus.devices[{n}]"
        if not isinstance(d, dict) or not {"host", "model", "points"} <= set(d):
            raise ValidationError(where, "host, model and points", d)
        if d["model"] not in models:
            raise ValidationError(f"{where}.model", f"one of {sorted(models)}", d["model"])
        registers = models[d["model"]]
        unknown = sorted(set(d["points"]) - set(registers))
        if unknown:
            raise ValidationError(f"{where}.points", f"points of model {d['model']}: {sorted(registers)}", unknown)
        devices.append(
            Device(
                host=str(d["host"]),
                port=int(d.get("port", 502)),
                unit=int(d.get("unit", 1)),
                model=str(d["model"]),
                points={k: str(v) for k, v in d["points"].items()},
                registers={k: registers[k] for k in d["points"]},
            )
        )
    interval = float(doc.get("interval_s", 60))
    if interval <= 0:
        raise ValidationError("modbus.interval_s", "a positive number of seconds", interval)
    return devices, interval


class ModbusPoller:
    """Poll devices on a clock grid and hand each cycle's readings to the sink.

    Parameters
    ----------
    sink
        The ingest pipeline.
    devices
        What to poll.
    interval_s
        Poll period [s]; cycles start on multiples of it (epoch-aligned).
    timeout_s
        Per-request timeout [s].
    on_batch
        Called with each sink result.
    on_error
        Called as ``(device, message)`` when a device or a point cannot be read.
    """

    def __init__(
        self,
        sink: Sink,
        devices: Sequence[Device],
        *,
        interval_s: float = 60.0,
        timeout_s: float = 3.0,
        on_batch: Callable[[Any], None] | None = None,
        on_error: Callable[[str, str], None] | None = None,
    ) -> None:
        self.sink = sink
        self.devices = list(devices)
        self.on_error = on_error or (lambda device, message: None)
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.on_batch = on_batch or (lambda result: None)
        self.cycles = 0
        self.errors = 0
        self._clients: dict[str, AsyncModbusTcpClient] = {}

    async def _client(self, device: Device) -> AsyncModbusTcpClient:
        client = self._clients.get(device.name)
        if client is None:
            client = AsyncModbusTcpClient(
                device.host, port=device.port, timeout=self.timeout_s, retries=1, reconnect_delay=0.5
            )
            self._clients[device.name] = client
        if not client.connected:
            await client.connect()
        return client

    async def read_device(self, device: Device, stamp_ms: int) -> list[RawReading]:
        """One device's readings at ``stamp_ms``.

        A device that does not answer, or answers a request with a Modbus exception, yields
        no reading for it and is reported to ``on_error`` (the service raises an alarm); a
        register that decodes to NaN or infinity is passed on and quarantined as ``bad_value``.
        """
        out: list[RawReading] = []
        try:
            client = await self._client(device)
            if not client.connected:
                raise ModbusException("no connection")
        except (ModbusException, OSError) as exc:
            self.errors += 1
            self.on_error(device.name, f"{device.name} unreachable: {exc}")
            return out
        for name, meter in device.points.items():
            point = device.registers[name]
            read = client.read_input_registers if point.table == "input" else client.read_holding_registers
            raw_text = f"modbus {device.name} {point.table}[{point.address}:{point.address + point.count}]"
            try:
                response = await read(point.address, count=point.count, device_id=device.unit)
                if response.isError():
                    raise ModbusException(str(response))
                value = decode(response.registers, point)
            except (ModbusException, OSError) as exc:
                self.errors += 1
                self.on_error(device.name, f"{device.name} point {name} ({raw_text}): {exc}")
                continue
            out.append(
                RawReading(meter, stamp_ms, value, unit=point.unit, raw=f"{raw_text} {response.registers} = {value!r}")
            )
        return out

    async def poll_once(self, stamp_ms: int | None = None) -> Any:
        """Read every device once and store the readings (one sink call); the sink's result."""
        stamp = stamp_ms if stamp_ms is not None else self._grid_ms(time.time())
        batches = await asyncio.gather(*(self.read_device(d, stamp) for d in self.devices))
        readings = [r for batch in batches for r in batch]
        self.cycles += 1
        result = await asyncio.to_thread(self.sink, readings, ())
        self.on_batch(result)
        return result

    def _grid_ms(self, now_s: float) -> int:
        step = self.interval_s
        return int(math.floor(now_s / step) * step * 1000)

    async def run(self, *, cycles: int | None = None, stop: asyncio.Event | None = None) -> None:
        """Poll every ``interval_s`` on the clock grid until ``cycles`` are done or ``stop`` is set."""
        stop = stop or asyncio.Event()
        done = 0
        try:
            while not stop.is_set() and (cycles is None or done < cycles):
                await self.poll_once()
                done += 1
                if cycles is not None and done >= cycles:
                    break
                now = time.time()
                wait = (math.floor(now / self.interval_s) + 1) * self.interval_s - now
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=wait)
        finally:
            self.close()

    def close(self) -> None:
        """Close every client connection."""
        for client in self._clients.values():
            client.close()
        self._clients.clear()
