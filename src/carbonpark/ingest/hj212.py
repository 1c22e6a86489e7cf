"""HJ 212-2017 (污染物在线监控（监测）系统数据传输标准): the protocol Chinese CEMS and
environmental monitors speak, received by a TCP listener.

A packet is ``##`` + four decimal digits (length of the data segment) + the data segment +
four hexadecimal digits (CRC16 of the data segment) + CRLF. The data segment is
``QN=…;ST=…;CN=…;PW=…;MN=…;Flag=…;CP=&&…&&``; inside ``CP``, fields are separated by ``;``
(between pollutants) and ``,`` (between the fields of one pollutant), e.g.
``DataTime=20250101120000;a05001-Avg=98000.0,a05001-Flag=N;a00000-Avg=12.5,a00000-Flag=N``.

The checksum is the standard's own CRC16 (HJ 212-2017 附录 A): register 0xFFFF; for each
byte the register becomes ``(register >> 8) XOR byte``, then eight shifts right, XOR 0xA001
after each shift that pushes out a 1. It differs from CRC-16/MODBUS (which XORs the byte
into the low byte without the shift); checked in the tests against the standard's example
packet ``…CP=&&RtdInterval=30&&1C80``.

Mapping to meters (YAML, ``hj212:`` section, see ``docs/field-protocols.md``): per station
(``mn``) and pollutant code (``a05001`` CO2, ``a00000`` flue-gas flow …) the meter, the
field (``Rtd`` real-time, ``Avg`` average of a minute/hour/day record, ``Cou`` cumulative
amount) and the unit. A station's data flag (``-Flag``) becomes a quality bit: ``N``
normal → 0, ``S`` manual → ``manual``, anything else (``F`` stopped, ``M`` maintenance,
``C`` calibration, ``D`` fault, ``T`` over range, ``B`` communication) → ``device_flag``.

:func:`cems_mass_record` turns an interval of CEMS samples (concentration × flow
integrated over time) into the activity record of the accounting engine's ``measured``
method (the guide §4.2 (3) 实测法).

References
----------
HJ 212-2017 §6 (packet structure), §6.3 (data segment), 附录 A (CRC), 附录 B (pollutant
codes: a00000 废气, a05001 二氧化碳, a05002 甲烷, a19001 氧气含量, a21026 二氧化硫,
a21002 氮氧化物), 表 5/6 (CN 2011 real-time, 2051 minute, 2061 hour, 2031 day data;
9014 data acknowledgement); HJ 75-2017 (CEMS: emission = concentration × flow × time, dry
standard conditions); the guide §4.2 (3), appendix indicator 5 (standard protocols).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from carbonpark.accounting import ActivityRecord
from carbonpark.accounting.methods import cems_mass_t
from carbonpark.errors import ValidationError
from carbonpark.ingest.model import RawReading, SeqMark, Sink, failed
from carbonpark.quality.flags import QualityFlag

__all__ = [
    "DATA_COMMANDS",
    "INTERVAL_S",
    "Hj212Error",
    "Hj212Listener",
    "Hj212Map",
    "Hj212Message",
    "ack_packet",
    "cems_mass_record",
    "crc16",
    "frame",
    "parse_packet",
    "to_readings",
]

#: Command numbers that carry monitoring data (HJ 212-2017 表 6).
DATA_COMMANDS = {"2011": "Rtd", "2051": "Avg", "2061": "Avg", "2031": "Avg"}
_HEADER = b"##"
_MAX_SEGMENT = 1024  # HJ 212-2017 §6.1: data segment 0–1024 characters
_FIELD = re.compile(r"^([A-Za-z0-9]+)-([A-Za-z]+)$")


class Hj212Error(ValidationError):
    """A packet that breaks HJ 212-2017; ``reason`` is the quarantine reason."""

    def __init__(self, reason: str, expected: str, got: Any) -> None:
        super().__init__("HJ 212 packet", expected, got)
        self.reason = reason


def crc16(data: bytes) -> int:
    """HJ 212-2017 附录 A CRC16 of ``data``.

    >>> seg = b"QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&"
    >>> f"{crc16(seg):04X}"
    '1C80'
    """
    reg = 0xFFFF
    for byte in data:
        reg = (reg >> 8) ^ byte
        for _ in range(8):
            out = reg & 1
            reg >>= 1
            if out:
                reg ^= 0xA001
    return reg


def frame(segment: str) -> bytes:
    """The full packet of a data segment: ``##`` + length + segment + CRC + CRLF."""
    body = segment.encode("ascii")
    if len(body) > _MAX_SEGMENT:
        raise ValidationError("HJ 212 data segment", f"at most {_MAX_SEGMENT} characters", len(body))
    return b"##%04d%s%04X\r\n" % (len(body), body, crc16(body))


@dataclass
class Hj212Message:
    """A parsed data segment.

    Attributes
    ----------
    header
        ``QN``, ``ST``, ``CN``, ``PW``, ``MN``, ``Flag`` … as text.
    data_time
        ``DataTime`` of ``CP`` (``yyyyMMddHHmmss``, station-local), or ``None``.
    values
        Pollutant code → field (``Rtd``, ``Avg``, ``Min``, ``Max``, ``Cou``, ``Flag`` …) → text.
    extra
        Other ``CP`` fields without a pollutant code (``RtdInterval`` …).
    """

    header: dict[str, str]
    data_time: str | None
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def cn(self) -> str:
        """Command number."""
        return self.header.get("CN", "")

    @property
    def mn(self) -> str:
        """Station (data collector) number."""
        return self.header.get("MN", "")

    @property
    def wants_ack(self) -> bool:
        """The station asks for an answer (bit A of ``Flag``)."""
        try:
            return bool(int(self.header.get("Flag", "0")) & 1)
        except ValueError:
            return False


def _parse_segment(segment: str) -> Hj212Message:
    head, sep, rest = segment.partition("CP=&&")
    if not sep or not rest.endswith("&&"):
        raise Hj212Error("malformed", "a data segment with CP=&&…&&", segment[:80])
    header: dict[str, str] = {}
    for part in head.split(";"):
        if not part:
            continue
        key, eq, value = part.partition("=")
        if not eq:
            raise Hj212Error("malformed", "header fields KEY=VALUE separated by ';'", part)
        header[key] = value
    for needed in ("ST", "CN", "MN"):
        if needed not in header:
            raise Hj212Error("missing_field", f"the header field {needed}", segment[:80])
    msg = Hj212Message(header=header, data_time=None)
    body = rest[:-2]
    for group in filter(None, body.split(";")):
        for item in filter(None, group.split(",")):
            key, eq, value = item.partition("=")
            if not eq:
                raise Hj212Error("malformed", "CP fields KEY=VALUE", item)
            key = key.strip()
            if key == "DataTime":
                msg.data_time = value
                continue
            m = _FIELD.match(key)
            if m:
                msg.values.setdefault(m.group(1), {})[m.group(2)] = value
            else:
                msg.extra[key] = value
    return msg


def parse_packet(packet: bytes) -> Hj212Message:
    """Check and parse one packet (with or without its trailing CRLF).

    Raises
    ------
    Hj212Error
        ``malformed`` (header, length field, characters), ``bad_crc`` (checksum mismatch),
        ``missing_field`` (ST, CN or MN missing).
    """
    data = packet.rstrip(b"\r\n")
    if not data.startswith(_HEADER) or len(data) < 10:
        raise Hj212Error("malformed", "a packet starting with ## and a 4-digit length", data[:16])
    length_text = data[2:6]
    if not length_text.isdigit():
        raise Hj212Error("malformed", "a 4-digit decimal length after ##", length_text)
    length = int(length_text)
    segment, crc_text = data[6:-4], data[-4:]
    if len(segment) != length:
        raise Hj212Error("malformed", f"a data segment of {length} characters (the length field)", len(segment))
    try:
        sent_crc = int(crc_text, 16)
    except ValueError:
        raise Hj212Error("malformed", "4 hexadecimal CRC digits", crc_text) from None
    actual = crc16(segment)
    if actual != sent_crc:
        raise Hj212Error("bad_crc", f"CRC {actual:04X} of the data segment", crc_text.decode("ascii", "replace"))
    try:
        text = segment.decode("ascii")
    except UnicodeDecodeError:
        raise Hj212Error("malformed", "an ASCII data segment", segment[:40]) from None
    return _parse_segment(text)


def ack_packet(msg: Hj212Message) -> bytes:
    """The data acknowledgement (CN=9014, ST=91) a station asks for with ``Flag`` bit A."""
    qn = msg.header.get("QN", "")
    pw = msg.header.get("PW", "")
    return frame(f"QN={qn};ST=91;CN=9014;PW={pw};MN={msg.mn};Flag=4;CP=&&&&")


@dataclass(frozen=True)
class _Target:
    meter: str
    field: str
    unit: str | None


@dataclass(frozen=True)
class _Mass:
    meter: str
    concentration: str
    flow: str
    flow_unit: str


#: Seconds of the time unit of a flow (HJ 212 reports a00000 flue gas in m3/s).
_FLOW_SECONDS = {"m3/s": 1.0, "m3/h": 3600.0}
#: Length of the interval an averaged record covers [s] (HJ 212-2017 表 6: minute, hour, day data).
INTERVAL_S = {"2051": 60.0, "2061": 3600.0, "2031": 86400.0}


class Hj212Map:
    """Which meter each (station, pollutant code) feeds.

    Built from the ``hj212`` list of a map file::

        hj212:
          - mn: "010000A8900016F000169DC0"
            pw: "123456"                                       # optional: packets with another PW are refused
            codes:
              a00000: {meter: boiler1-flow, unit: m3/s}        # field: Avg (Rtd for CN 2011) by default
              a05001: {meter: boiler1-co2-kg, field: Cou, unit: kg}   # the station's own emission amount
            mass:                                              # or: concentration × flow × interval
              - {meter: boiler1-co2-t, concentration: a05001, flow: a00000, flow_unit: m3/s}

    A ``mass`` entry turns each averaged record (minute, hour or day data) into the mass
    emitted in its interval: ``c [mg/m3] × Q [m3/s] × Δt [s]`` → kg, stored on a mass meter
    (interval amounts) that the ``measured`` method then sums.
    """

    def __init__(self, entries: Sequence[dict[str, Any]]) -> None:
        self._targets: dict[tuple[str, str], _Target] = {}
        self._masses: dict[str, list[_Mass]] = {}
        self._passwords: dict[str, str] = {}
        for n, entry in enumerate(entries):
            if not isinstance(entry, dict) or "mn" not in entry or not isinstance(entry.get("codes"), dict):
                raise ValidationError(f"hj212[{n}]", "a mapping with mn and codes", entry)
            for code, spec in entry["codes"].items():
                spec = {"meter": spec} if isinstance(spec, str | int) else spec
                if not isinstance(spec, dict) or "meter" not in spec:
                    raise ValidationError(f"hj212[{n}].codes.{code}", "a meter (or {meter, unit, field})", spec)
                self._targets[(str(entry["mn"]), str(code))] = _Target(
                    str(spec["meter"]), str(spec.get("field", "")), spec.get("unit")
                )
            if entry.get("pw") is not None:
                self._passwords[str(entry["mn"])] = str(entry["pw"])
            for k, spec in enumerate(entry.get("mass", []) or []):
                where = f"hj212[{n}].mass[{k}]"
                if not isinstance(spec, dict) or not {"meter", "concentration", "flow"} <= set(spec):
                    raise ValidationError(where, "a mapping with meter, concentration and flow", spec)
                flow_unit = spec.get("flow_unit", "m3/s")
                if flow_unit not in _FLOW_SECONDS:
                    raise ValidationError(f"{where}.flow_unit", f"one of {sorted(_FLOW_SECONDS)}", flow_unit)
                self._masses.setdefault(str(entry["mn"]), []).append(
                    _Mass(str(spec["meter"]), str(spec["concentration"]), str(spec["flow"]), flow_unit)
                )

    def password_ok(self, mn: str, pw: str | None) -> bool:
        """True unless the map sets a password (``pw``) for the station and the packet's differs."""
        wanted = self._passwords.get(mn)
        return wanted is None or wanted == pw

    def masses(self, mn: str) -> list[_Mass]:
        """Mass meters fed by concentration × flow of a station."""
        return self._masses.get(mn, [])

    def target(self, mn: str, code: str) -> _Target | None:
        """The meter a station's pollutant code feeds, or ``None``."""
        return self._targets.get((mn, code))

    def __len__(self) -> int:
        return len(self._targets) + sum(len(v) for v in self._masses.values())


def _quality_of(flag: str | None) -> int:
    if flag is None or flag == "N":
        return 0
    if flag == "S":
        return int(QualityFlag.MANUAL)
    return int(QualityFlag.DEVICE_FLAG)


def to_readings(msg: Hj212Message, mapping: Hj212Map, raw: str) -> list[RawReading]:
    """The readings of a data message (CN 2011/2051/2061/2031) for the mapped pollutant codes.

    Unmapped codes are ignored (a CEMS reports temperatures, pressures … the park may not
    meter); a mapped code without its field, or a message without ``DataTime``, becomes a
    quarantined ``missing_field`` reading.
    """
    default_field = DATA_COMMANDS.get(msg.cn)
    if default_field is None:
        return []
    out: list[RawReading] = []
    for code, fields in msg.values.items():
        target = mapping.target(msg.mn, code)
        if target is None:
            continue
        name = target.field or default_field
        if msg.data_time is None:
            out.append(failed("missing_field", raw, f"{msg.mn} {code}: no DataTime in CP"))
            continue
        if name not in fields:
            out.append(failed("missing_field", raw, f"{msg.mn} {code}: no {code}-{name} in CP"))
            continue
        try:
            ts = datetime.strptime(msg.data_time, "%Y%m%d%H%M%S")
        except ValueError:
            out.append(
                RawReading(target.meter, None, fields[name], raw=raw, error="bad_timestamp", detail=msg.data_time)
            )
            continue
        out.append(
            RawReading(
                meter=target.meter,
                ts=ts,
                value=fields[name],
                unit=target.unit,
                quality=_quality_of(fields.get("Flag")),
                raw=raw,
            )
        )
    interval = INTERVAL_S.get(msg.cn)
    for mass in mapping.masses(msg.mn):
        if interval is None or msg.data_time is None:
            continue  # real-time values are rates at an instant: integrate them with cems_mass_record
        conc, flow = msg.values.get(mass.concentration, {}), msg.values.get(mass.flow, {})
        if "Avg" not in conc or "Avg" not in flow:
            out.append(failed("missing_field", raw, f"{msg.mn}: {mass.concentration}-Avg and {mass.flow}-Avg needed"))
            continue
        try:
            c, q = float(conc["Avg"]), float(flow["Avg"])
            ts = datetime.strptime(msg.data_time, "%Y%m%d%H%M%S")
        except ValueError as exc:
            out.append(failed("bad_value", raw, f"{msg.mn} mass of {mass.concentration}: {exc}"))
            continue
        kg = c * q / _FLOW_SECONDS[mass.flow_unit] * interval / 1e6  # mg/m3 × m3/s × s = mg → kg
        quality = _quality_of(conc.get("Flag")) | _quality_of(flow.get("Flag"))
        out.append(RawReading(mass.meter, ts, kg, unit="kg", quality=quality, raw=raw))
    return out


class Hj212Listener:
    """An asyncio TCP server receiving HJ 212 packets from stations.

    Each connection's byte stream is split into packets at CRLF; every packet goes to the
    sink (in a worker thread, so the event loop keeps receiving); an acknowledgement is sent
    only after the sink returned, i.e. after the readings are committed. A packet with a
    bad CRC or structure is quarantined with its raw text and not acknowledged, so that the
    station sends it again.

    Parameters
    ----------
    sink
        The ingest pipeline (``sink(readings, marks) -> result``).
    mapping
        Station and pollutant code → meter.
    host, port
        Where to listen (port 0: any free port; see :attr:`port` after :meth:`start`).
    on_batch
        Called with each sink result (counts for the CLI).
    """

    def __init__(
        self,
        sink: Sink,
        mapping: Hj212Map,
        *,
        host: str = "0.0.0.0",
        port: int = 0,
        on_batch: Callable[[Any], None] | None = None,
    ) -> None:
        self.sink = sink
        self.mapping = mapping
        self.host = host
        self.port = port
        self.on_batch = on_batch or (lambda result: None)
        self.packets = 0
        self.last_packet = 0.0
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        """Start listening; :attr:`port` is the bound port afterwards."""
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self.last_packet = asyncio.get_running_loop().time()

    async def stop(self) -> None:
        """Stop listening and close the server."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def handle_packet(self, packet: bytes) -> bytes | None:
        """Store one packet's readings; the acknowledgement to send back, if any."""
        raw = packet.decode("ascii", "replace").rstrip("\r\n")
        self.packets += 1
        self.last_packet = asyncio.get_running_loop().time()
        try:
            msg = parse_packet(packet)
        except Hj212Error as exc:
            result = await asyncio.to_thread(self.sink, [failed(exc.reason, raw, str(exc))], ())
            self.on_batch(result)
            return None
        if not self.mapping.password_ok(msg.mn, msg.header.get("PW")):
            result = await asyncio.to_thread(
                self.sink, [failed("bad_password", raw, f"station {msg.mn}: PW does not match the map")], ()
            )
            self.on_batch(result)
            return None
        readings = to_readings(msg, self.mapping, raw)
        marks: list[SeqMark] = []
        if readings:
            result = await asyncio.to_thread(self.sink, readings, marks)
            self.on_batch(result)
        return ack_packet(msg) if msg.wants_ack and msg.cn in DATA_COMMANDS else None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    packet = await reader.readuntil(b"\r\n")
                except asyncio.IncompleteReadError as exc:
                    if exc.partial.strip():
                        await self.handle_packet(exc.partial)
                    break
                except asyncio.LimitOverrunError:
                    junk = await reader.read(65536)
                    await self.handle_packet(junk)
                    continue
                answer = await self.handle_packet(packet)
                if answer:
                    writer.write(answer)
                    await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()


def cems_mass_record(
    ts_ms: Sequence[int] | np.ndarray,
    concentration_mg_per_m3: Sequence[float] | np.ndarray,
    flow_m3_per_h: Sequence[float] | np.ndarray,
    *,
    interval_s: float | None = None,
    max_gap_s: float = 3600.0,
    gas: str = "CO2",
    source: str = "CEMS",
    line: int = 0,
    enterprise: str = "",
) -> tuple[ActivityRecord, dict[str, float]]:
    """An interval of CEMS samples as the activity record of the ``measured`` method.

    ``mass = Σ c_i × Q_i × Δt_i`` [t] with c in mg/m3 and Q in m3/h at the same (dry,
    standard) conditions, Δt in h. With ``interval_s`` every sample is the average of an
    interval of that length (HJ 212 minute or hour records, CN 2051/2061) and the sum is
    :func:`carbonpark.accounting.methods.cems_mass_t`; without it the samples are real-time
    values (CN 2011) held until the next sample, but never longer than ``max_gap_s`` (a
    longer silence is a gap, not emission, and lowers ``coverage``).

    Parameters
    ----------
    ts_ms
        Sample times [UTC epoch ms], ascending.
    concentration_mg_per_m3, flow_m3_per_h
        Concentration [mg/m3] and flue-gas flow [m3/h] of each sample.
    interval_s, max_gap_s
        Interval of averaged records [s]; longest hold of a real-time sample [s].
    gas, source, line, enterprise
        What the record is about (``gas`` is the measured gas).

    Returns
    -------
    record, summary
        ``ActivityRecord(method="measured", amount=mass, unit="t")`` and ``{"mass_t",
        "hours", "samples", "coverage"}`` (coverage = hours integrated / span of the samples).

    Examples
    --------
    Two hourly averages of 100 000 mg/m3 CO2 at 20 000 m3/h: 2 × 100 000 × 20 000 × 1 mg = 4 t.
    """
    ts = np.asarray(ts_ms, dtype=np.int64)
    c = np.asarray(concentration_mg_per_m3, dtype=float)
    q = np.asarray(flow_m3_per_h, dtype=float)
    if not (ts.size == c.size == q.size) or ts.size == 0:
        raise ValidationError(
            "CEMS samples", "as many times, concentrations and flows (at least one)", (ts.size, c.size, q.size)
        )
    if np.any(np.diff(ts) <= 0):
        raise ValidationError("CEMS samples", "strictly ascending times", "unsorted or repeated times")
    if interval_s is not None:
        mass = cems_mass_t(c.tolist(), q.tolist(), interval_s / 3600)
        hours = ts.size * interval_s / 3600
        span_h = ((ts[-1] - ts[0]) / 1000 + interval_s) / 3600
    else:
        dt_s = np.diff(ts) / 1000
        held = np.minimum(dt_s, max_gap_s)
        mass = float(np.sum(c[:-1] * q[:-1] * held / 3600)) / 1e9
        hours = float(held.sum()) / 3600
        span_h = float(dt_s.sum()) / 3600
    record = ActivityRecord(
        line=line,
        source=source,
        activity=gas.lower(),
        amount=mass,
        unit="t",
        method="measured",
        gas=gas,
        enterprise=enterprise,
    )
    return record, {
        "mass_t": mass,
        "hours": hours,
        "samples": int(ts.size),
        "coverage": float(hours / span_h) if span_h else 1.0,
    }
