"""Registry, history and the readings bulk path, on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from carbonpark.errors import ConflictError, DuplicateError, NotFoundError, ValidationError
from carbonpark.services.registry_io import import_registry, import_statistics
from carbonpark.store import connect, count_readings, insert_readings, session, upgrade
from carbonpark.store.schema import AuditEntry, Enterprise, Meter, Statistic

GOOD = """
park: {name: 测试园区, handle_prefix: "5678"}
carriers:
  - {code: electricity, name: 电力, name_en: Electricity, quantity: energy, unit: kWh}
enterprises:
  - {name: 甲公司, credit_code: 91350100M000100Y43, industry_code: C2614, key_emitter: true}
meters:
  - {code: m-main, quantity: energy, unit: kWh, carrier: electricity, enterprise: 91350100M000100Y43}
  - {code: m-sub, quantity: energy, unit: MWh, carrier: electricity, enterprise: 91350100M000100Y43, parent: m-main}
products:
  - {code: p1, name: 产品, unit: t, enterprise: 91350100M000100Y43}
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _count(db: str, model: type) -> int:
    with session(db) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
def registry_db(db_url: str, tmp_path: Path) -> str:
    upgrade(db_url)
    created = import_registry(db_url, _write(tmp_path, "good.yaml", GOOD), "tester")
    assert created == {"parks": 1, "carriers": 1, "enterprises": 1, "meters": 2, "products": 1}
    return db_url


def test_entities_get_immutable_handles_and_history(registry_db: str) -> None:
    with session(registry_db) as s:
        meters = s.scalars(select(Meter).order_by(Meter.id)).all()
        assert [m.handle for m in meters] == [f"88.5678/meter.{m.id}" for m in meters]
        assert meters[1].parent_id == meters[0].id
        ent = s.scalars(select(Enterprise)).one()
        assert ent.handle == f"88.5678/ent.{ent.id}"
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.actor == "tester")).all()
        assert actions.count("create") == 6  # park, carrier, enterprise, two meters, product


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("enterprises:\n  - {name: 乙, credit_code: 91350100M000100Y44, industry_code: C26}\n", "check character '3'"),
        ("meters:\n  - {code: m-main, quantity: energy, unit: kWh}\n", "meter 'm-main' already exists"),
        ("meters:\n  - {code: m-new, quantity: energy, unit: Nm3}\n", "meters[1], unit: expected a unit of energy"),
        ("meters:\n  - {code: m-x, quantity: volume, unit: m3, parent: m-main}\n", "a parent meter measuring volume"),
        ("meters:\n  - {code: m-y, quantity: energy, unit: kWh, enterprise: nobody}\n", "no enterprise"),
    ],
)
def test_bad_registry_input_is_refused_and_changes_nothing(
    registry_db: str, tmp_path: Path, yaml_text: str, message: str
) -> None:
    # a good entity first in the same file: it must not be stored either (all or nothing)
    text = "materials:\n  - {code: mat-ok, name: 钢, unit: t}\n" + yaml_text
    before = (_count(registry_db, Meter), _count(registry_db, Enterprise), _count(registry_db, AuditEntry))
    with pytest.raises((ValidationError, DuplicateError, NotFoundError)) as info:
        import_registry(registry_db, _write(tmp_path, "bad.yaml", text), "tester")
    assert message in str(info.value)
    after = (_count(registry_db, Meter), _count(registry_db, Enterprise), _count(registry_db, AuditEntry))
    assert after == before


def test_statistics_import_is_idempotent_and_keeps_history(registry_db: str, tmp_path: Path) -> None:
    csv1 = (
        "enterprise,period,metric,value,unit,source\n"
        "91350100M000100Y43,2025-01,output:p1,120.5,t,月报\n"
        "91350100M000100Y43,2025-01,value_added,300,万元,月报\n"
        "91350100M000100Y43,2025,employees,85,persons,年报\n"
    )
    assert import_statistics(registry_db, _write(tmp_path, "s1.csv", csv1), "tester") == {
        "created": 3,
        "updated": 0,
        "unchanged": 0,
    }
    assert import_statistics(registry_db, _write(tmp_path, "s1.csv", csv1), "tester") == {
        "created": 0,
        "updated": 0,
        "unchanged": 3,
    }
    csv2 = "enterprise,period,metric,value,unit\n91350100M000100Y43,2025-01,value_added,310,万元\n"
    assert import_statistics(registry_db, _write(tmp_path, "s2.csv", csv2), "auditor")["updated"] == 1
    with session(registry_db) as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "update")).one()
        assert (entry.actor, entry.before["value"], entry.after["value"]) == ("auditor", 300.0, 310.0)
        assert s.scalar(select(func.count()).select_from(Statistic)) == 3


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("91350100M000100Y43,2025-13,value_added,1,万元", "line 2, period"),
        ("91350100M000100Y43,2025-01,value_added,abc,万元", "line 2, value: expected a number"),
        ("91350100M000100Y43,2025-01,value_added,1,kg", "line 2, unit: expected a money unit"),
        ("91350100M000100Y43,2025-01,output:nope,1,t", "no product"),
        ("91350100M000100Y43,2025-01,happiness,1,t", "line 2, metric"),
    ],
)
def test_bad_statistics_name_the_line_and_store_nothing(
    registry_db: str, tmp_path: Path, line: str, message: str
) -> None:
    text = "enterprise,period,metric,value,unit\n" + line + "\n91350100M000100Y43,2025-02,value_added,5,万元\n"
    with pytest.raises((ValidationError, NotFoundError)) as info:
        import_statistics(registry_db, _write(tmp_path, "bad.csv", text), "tester")
    assert message in str(info.value)
    assert _count(registry_db, Statistic) == 0


def test_readings_bulk_path_is_idempotent_on_request(db_url: str) -> None:
    upgrade(db_url)
    engine = connect(db_url)
    assert insert_readings(engine, [(1, t, 1.5, 0) for t in range(0, 10_000, 1000)]) == 10
    # 5 of these 10 are already there (5000…9000): only 5 new rows are stored
    assert insert_readings(engine, [(1, t, 9.9, 0) for t in range(5000, 15_000, 1000)], on_conflict="ignore") == 5
    assert count_readings(engine) == 15
    with pytest.raises(ConflictError, match="nothing of this batch was stored"):
        insert_readings(engine, [(1, 20_000, 1.0, 0), (1, 0, 2.0, 0)])
    assert count_readings(engine) == 15
