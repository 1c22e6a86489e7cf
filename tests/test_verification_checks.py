"""The energy-balance cross-check of ``verify check`` on sub-metered readings (issue 8 item 4), SQLite and PostgreSQL.

Meter m-A of tests/test_api_park.py ``build_park`` reads 2.0 kWh (2024-01-01 00:00) and 3.0 kWh (2024-06-01)
inside 2024: 5.0 kWh. Its two sub-meters read 2.0 + 2.6 = 4.6 kWh: (4.6 − 5.0) / 5.0 = −8 %, beyond the
±5 % tolerance of the check (docs/inventory.md). Enterprise B's sub-metering is not A's business.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from carbonpark.model import MeterSpec
from carbonpark.services import inventory as svc
from carbonpark.store import connect, session
from carbonpark.store.readings import insert_readings
from carbonpark.store.registry import add_meter, the_park
from test_api_park import build_park, fast_hashing  # noqa: F401 (autouse fixture)

SH = ZoneInfo("Asia/Shanghai")


def _ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=SH).timestamp() * 1000)


def test_energy_balance_of_sub_meters_is_checked_within_the_enterprise(db_url: str) -> None:
    park = build_park(db_url)
    a, b = park["A"], park["B"]
    with session(db_url) as s:
        p = the_park(s)
        kids = {}
        for code, ent, parent in (("m-A1", a, "m-A"), ("m-A2", a, "m-A"), ("m-B1", b, "m-B")):
            spec = MeterSpec(
                code=code,
                quantity="energy",
                unit="kWh",
                carrier="electricity",
                enterprise=str(ent["enterprise_id"]),
                parent=parent,
            )
            kids[code] = add_meter(s, p, spec, "test").id
    insert_readings(
        connect(db_url),
        [
            (kids["m-A1"], _ms(2024, 3, 1), 2.0, 0),
            (kids["m-A2"], _ms(2024, 7, 1), 2.6, 0),
            (kids["m-B1"], _ms(2024, 3, 1), 1.0, 0),
        ],
    )
    org = a["refs"]["enterprises"][1]
    svc.save_version(db_url, org, 2024, actor="test")
    svc.add_verifier(db_url, "核查机构")
    assignment = svc.assign_verifier(db_url, "核查机构", org, 2024, actor="test")["id"]
    checks = svc.run_checks(db_url, assignment, actor="test")
    balance = [r for r in checks["results"] if r["check"] == "energy_balance"]
    assert [r["ref"] for r in balance] == ["m-A"]
    assert balance[0]["reported"] == pytest.approx(4.6) and balance[0]["reference"] == pytest.approx(5.0)
    assert balance[0]["difference_pct"] == pytest.approx(-8.0) and not balance[0]["ok"]
    assert any(f["check"] == "energy_balance" and f["ref"] == "m-A" for f in checks["findings"])
