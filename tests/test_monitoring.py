"""Live monitoring and alarms (issue 5 item 7) on SQLite and PostgreSQL, with hand-computed figures.

Factor values: grid electricity 0.5703 tCO2/MWh (MEE national ETS reporting factor 2022);
natural gas NCV 389.31 GJ/10^4 Nm3, 15.3 tC/TJ, oxidation 0.99 (NDRC 2015 guideline defaults),
both as packaged in carbonpark.factors.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from carbonpark.errors import ConflictError, ValidationError
from carbonpark.quality.alarm_rules import check_rate_of_change, check_silence, check_threshold, validate_params
from carbonpark.services import monitoring as mon
from carbonpark.services.registry_io import import_registry, import_statistics
from carbonpark.store import connect, insert_readings, session, upgrade
from carbonpark.store.schema import Meter
from carbonpark.times import parse_timestamp

REGISTRY = """
park: {name: 监测园区, handle_prefix: "42"}
enterprises:
  - {name: 甲, credit_code: 91350100M000100Y43, industry_code: C2614}
  - {name: 乙, credit_code: 91110000600037341L, industry_code: C1711}
products:
  - {code: p1, name: 产品, unit: t, enterprise: 91350100M000100Y43}
meters:
  - {code: E1, quantity: energy, unit: kWh, enterprise: 91350100M000100Y43}
  - {code: E1s, quantity: energy, unit: kWh, enterprise: 91350100M000100Y43, parent: E1}
  - {code: C1, quantity: energy, unit: kWh, reading_kind: cumulative, rollover: 1000, enterprise: 91350100M000100Y43}
  - {code: G1, quantity: volume, unit: m3, enterprise: 91110000600037341L}
sources:
  - {name: 外购电, enterprise: 91350100M000100Y43, activity: grid_electricity, scope: 2, meter: E1}
  - {name: 天然气锅炉, enterprise: 91110000600037341L, activity: natural_gas, scope: 1, meter: G1}
"""

T0 = parse_timestamp("2025-03-01T00:00:00", "Asia/Shanghai")
H = 3_600_000


@pytest.fixture
def db(db_url: str, tmp_path: Path) -> str:
    upgrade(db_url)
    (tmp_path / "r.yaml").write_text(REGISTRY, encoding="utf-8")
    import_registry(db_url, tmp_path / "r.yaml", "t")
    (tmp_path / "s.csv").write_text("enterprise,period,metric,value,unit\n甲,2025-03,output:p1,2,t\n", encoding="utf-8")
    import_statistics(db_url, tmp_path / "s.csv", "t")
    with session(db_url) as s:
        ids = {m.code: m.id for m in s.query(Meter)}
    rows = [
        (ids["E1"], T0, 100.0, 0),
        (ids["E1"], T0 + H, 120.0, 0),
        (ids["E1s"], T0 + H, 50.0, 0),
        (ids["C1"], T0 + H - H // 2, 990.0, 0),
        (ids["C1"], T0 + H, 10.0, 0),  # rolled over: 990 → 1000 ≡ 0 → 10 is 20 kWh in half an hour
        (ids["G1"], T0 + H, 100.0, 0),
    ]
    insert_readings(connect(db_url), rows)
    return db_url


def test_overview_loads_and_emissions_rate(db: str) -> None:
    ov = mon.overview(db)
    loads = {m["code"]: m["load_per_h"] for m in ov["meters"]}
    assert loads == pytest.approx({"E1": 120.0, "E1s": 50.0, "C1": 40.0, "G1": 100.0})
    # the park and enterprise sums take top-level meters only: E1 + C1 (E1s is inside E1)
    assert ov["park"] == pytest.approx({"energy": 160.0, "volume": 100.0})
    assert ov["enterprises"]["88.42/ent.1"] == pytest.approx({"energy": 160.0})
    assert ov["as_of"] == "2025-03-01T01:00:00+08:00"
    # last hour (00:00, 01:00]: E1 120 kWh → 0.120 MWh × 0.5703 = 0.068436 t;
    # G1 100 m3 → 0.01 × 389.31 GJ × 0.0153 tC/GJ × 0.99 × 44/12 = 0.2162188809 t
    assert ov["emissions"]["tco2e_per_h"] == pytest.approx(0.068436 + 0.2162188809, rel=1e-9)
    assert ov["emissions"]["sources"] == 2


def _webhook_server() -> tuple[HTTPServer, list[dict[str, Any]]]:
    received: list[dict[str, Any]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, received


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_rules_raise_once_notify_and_clear(db: str) -> None:
    server, received = _webhook_server()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        mon.add_rule(db, "E1 high", "threshold", "E1", {"high": 110}, severity="critical", webhook=url)
        mon.add_rule(db, "E1 ramp", "rate_of_change", "E1", {"max_per_hour": 10})
        mon.add_rule(db, "G1 silent", "silence", "G1", {"minutes": 90}, emails=("ops@example.org",))
        mon.add_rule(db, "E1 per t", "intensity", "E1", {"max_per_output": 100}, output_metric="output:p1")
        settings = mon.NotifySettings(host="127.0.0.1", port=_closed_port())
        first = mon.evaluate_rules(db, now_ms=T0 + 3 * H, settings=settings)
        # 120 > 110; |120 − 100| / 1 h = 20 > 10; G1 silent 120 min > 90; (100 + 120) kWh / 2 t = 110 > 100
        assert sorted(a["subject"] for a in first["raised"]) == ["E1 high", "E1 per t", "E1 ramp", "G1 silent"]
        by_subject = {a["subject"]: a for a in first["raised"]}
        assert by_subject["E1 per t"]["detail"]["value"] == pytest.approx(110.0)
        assert by_subject["G1 silent"]["detail"]["value"] == pytest.approx(120.0)
        assert [r["subject"] for r in received] == ["E1 high"]  # the webhook got the alarm as JSON
        assert received[0]["severity"] == "critical" and "120 kWh above the limit 110 kWh" in received[0]["message"]
        assert "e-mail via 127.0.0.1" in by_subject["G1 silent"]["detail"]["notification_failures"][0]
        again = mon.evaluate_rules(db, now_ms=T0 + 3 * H, settings=settings)
        assert again["raised"] == [] and again["open"] == 4  # an open alarm is not raised twice
        with session(db) as s:
            e1 = s.query(Meter).filter_by(code="E1").one().id
        insert_readings(connect(db), [(e1, T0 + 2 * H, 115.0, 0)])  # −5 kWh/h ramp, still above 110
        third = mon.evaluate_rules(db, now_ms=T0 + 2 * H + 1, settings=settings)
        # −5 kWh/h is within 10 kWh/h, and G1 has been silent 60 min ≤ 90: both clear; E1 stays above 110
        assert [a["subject"] for a in third["cleared"]] == ["E1 ramp", "G1 silent"]
        assert third["raised"] == []
    finally:
        server.shutdown()
        server.server_close()


def test_alarm_lifecycle_and_bad_rules(db: str) -> None:
    mon.add_rule(db, "E1 high", "threshold", "E1", {"high": 110})
    (alarm,) = mon.evaluate_rules(db, now_ms=T0 + H)["raised"]
    assert alarm["state"] == "raised"
    acked = mon.acknowledge_alarm(db, alarm["id"], "user:ops")
    assert (acked["state"], acked["acknowledged_by"]) == ("acknowledged", "user:ops")
    assert [a["id"] for a in mon.list_alarms(db, state="acknowledged")] == [alarm["id"]]
    cleared = mon.clear_alarm(db, alarm["id"], "user:ops")
    assert cleared["state"] == "cleared" and mon.list_alarms(db, state="open") == []
    with pytest.raises(ConflictError):
        mon.add_rule(db, "E1 high", "threshold", "E1", {"high": 1})
    with pytest.raises(ValidationError, match="output"):
        mon.add_rule(db, "x", "intensity", "E1", {"max_per_output": 1})
    with pytest.raises(ValidationError, match="http"):
        mon.add_rule(db, "y", "threshold", "E1", {"high": 1}, webhook="ftp://x")


def test_pure_rules() -> None:
    assert check_threshold(5.0, low=1.0, high=10.0) is None
    low = check_threshold(0.5, low=1.0)
    assert low is not None and (low.value, low.limit) == (0.5, 1.0)
    # 30 kWh in 15 minutes is 120 kWh/h
    ramp = check_rate_of_change((0, 10.0), (15 * 60_000, 40.0), max_per_hour=100.0)
    assert ramp is not None and ramp.value == pytest.approx(120.0)
    never = check_silence(None, 0, 5)
    assert never is not None and never.value is None
    with pytest.raises(ValidationError, match="below high"):
        validate_params("threshold", {"low": 5, "high": 1})
    with pytest.raises(ValidationError, match="minutes"):
        validate_params("silence", {})
    with pytest.raises(ValidationError, match="kind"):
        validate_params("vibes", {})


def test_cli_monitor_and_alarms(db: str) -> None:
    from typer.testing import CliRunner

    from carbonpark.cli.main import app

    runner = CliRunner()
    res = runner.invoke(app, ["monitor", "--db", db, "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["park"] == pytest.approx({"energy": 160.0, "volume": 100.0})
    add = ["alarms", "rules", "add", "E1 high", "--kind", "threshold", "--meter", "E1", "--param", "high=110"]
    assert runner.invoke(app, [*add, "--db", db]).exit_code == 0
    res = runner.invoke(app, ["alarms", "check", "--at", "2025-03-01T01:30:00", "--db", db, "--json"])
    assert res.exit_code == 0, res.output
    (raised,) = json.loads(res.stdout)["raised"]
    assert raised["raised"] == "2025-03-01T01:30:00+08:00"
    res = runner.invoke(app, ["alarms", "ack", str(raised["id"]), "--db", db, "--json"])
    assert json.loads(res.stdout)["state"] == "acknowledged"
    res = runner.invoke(
        app, ["alarms", "rules", "add", "x", "--kind", "silence", "--meter", "E1", "--param", "m", "--db", db]
    )
    assert res.exit_code == 1 and "NAME=NUMBER" in res.stderr


def test_alarm_email_reaches_a_real_smtp_server_with_login(db: str) -> None:
    """The e-mail hook logs in and delivers to an SMTP server (aiosmtpd, RFC 5321 / RFC 4954 AUTH PLAIN)."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    received: list[tuple[str, list[str], str]] = []
    logins: list[tuple[bytes, bytes]] = []

    class Inbox:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content.decode()))
            return "250 OK"

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        logins.append((data.login, data.password))
        return AuthResult(success=data.password == b"s3cret")

    controller = Controller(
        Inbox(), hostname="127.0.0.1", port=_closed_port(), authenticator=authenticator, auth_require_tls=False
    )
    controller.start()
    try:
        mon.add_rule(db, "G1 silent", "silence", "G1", {"minutes": 90}, emails=("ops@example.org", "cfo@example.org"))
        settings = mon.NotifySettings(
            host="127.0.0.1",
            port=controller.port,
            CARBONPARK_SMTP_FROM="alarms@park.example",
            user="ops",
            password="s3cret",
        )
        (alarm,) = mon.evaluate_rules(db, now_ms=T0 + 3 * H, settings=settings)["raised"]
        assert "notification_failures" not in (alarm.get("detail") or {})
        assert logins == [(b"ops", b"s3cret")]
        ((sender, recipients, content),) = received
        assert sender == "alarms@park.example"
        assert recipients == ["ops@example.org", "cfo@example.org"]
        message = email.message_from_string(content, policy=email.policy.default)
        assert (
            message["Subject"].strip() == "[carbonpark warning] G1 silent: G1: silent for 120 min, longer than 90 min"
        )
        assert message["To"] == "ops@example.org, cfo@example.org"
        # cleared by hand while G1 is still silent, the rule raises again; a wrong password is then
        # recorded with the alarm (an SMTP error), never raised
        mon.clear_alarm(db, alarm["id"], "test")
        wrong = settings.model_copy(update={"password": "wrong", "timeout_s": 2.0})
        (again,) = mon.evaluate_rules(db, now_ms=T0 + 3 * H, settings=wrong)["raised"]
        (failure,) = again["detail"]["notification_failures"]
        # smtplib tries its AUTH mechanisms in turn; aiosmtpd may refuse (535) or drop the session
        assert failure.startswith(f"e-mail via 127.0.0.1:{controller.port}: SMTP")
        assert failure.endswith(("SMTPAuthenticationError", "SMTPServerDisconnected"))
        assert len(received) == 1
    finally:
        controller.stop()


def test_rules_checked_continuously(db: str) -> None:
    """``alarms check --every``: the rule set is evaluated each cycle; an open alarm is not raised twice."""
    mon.add_rule(db, "G1 silent", "silence", "G1", {"minutes": 90})
    docs: list[dict[str, Any]] = []
    pauses: list[float] = []
    runs = mon.watch_rules(db, every_s=30, cycles=2, on_run=docs.append, sleep=pauses.append)
    # the fixture's readings are from 2025: at the wall clock G1 has been silent far longer than 90 min
    assert runs == 2 and pauses == [30]
    assert [len(d["raised"]) for d in docs] == [1, 0] and docs[1]["open"] == 1
    with pytest.raises(ValidationError, match="--every"):
        mon.watch_rules(db, every_s=0, cycles=1)
    p = subprocess.run(
        ["carbonpark", "alarms", "check", "--db", db, "--every", "0.05", "--cycles", "2", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == {"runs": 2}
    assert p.stderr.count("1 open") == 2
