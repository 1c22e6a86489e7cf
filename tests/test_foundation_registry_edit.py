"""Updating and deleting registry entities, with history, on SQLite and on PostgreSQL (issue 2 item 3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from carbonpark.cli.main import app
from carbonpark.errors import ConflictError, DuplicateError, ValidationError
from carbonpark.services import registry_io
from carbonpark.services.registry_io import import_registry
from carbonpark.store import connect, insert_readings, session, upgrade
from carbonpark.store.schema import AuditEntry, Meter

REGISTRY = """
park: {name: 测试园区, handle_prefix: "5678"}
carriers:
  - {code: electricity, name: 电力, name_en: Electricity, quantity: energy, unit: kWh}
  - {code: gas, name: 天然气, name_en: Natural gas, quantity: volume, unit: m3}
enterprises:
  - {name: 甲公司, credit_code: 91350100M000100Y43, industry_code: C2614}
meters:
  - {code: m-main, quantity: energy, unit: kWh, carrier: electricity, enterprise: 91350100M000100Y43}
  - {code: m-sub, quantity: energy, unit: kWh, carrier: electricity, parent: m-main}
  - {code: m-gas, quantity: volume, unit: m3, carrier: gas}
  - {code: m-spare, quantity: energy, unit: kWh}
"""


@pytest.fixture
def db(db_url: str, tmp_path: Path) -> str:
    upgrade(db_url)
    path = tmp_path / "registry.yaml"
    path.write_text(REGISTRY, encoding="utf-8")
    import_registry(db_url, path, "tester")
    return db_url


def _meter(db: str, code: str) -> Meter:
    with session(db) as s:
        return s.scalars(select(Meter).where(Meter.code == code)).one()


def test_update_validates_like_creation_and_keeps_before_and_after(db: str) -> None:
    sub = _meter(db, "m-sub")
    result = registry_io.update_entity(db, "meter", sub.handle, {"unit": "MWh", "accuracy_class": "0.5S"}, "alice")
    assert result["changed"] is True
    assert result["handle"] == sub.handle  # the identifier never changes
    with session(db) as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "update")).one()
        assert (entry.actor, entry.handle) == ("alice", sub.handle)
        assert (entry.before["unit"], entry.after["unit"]) == ("kWh", "MWh")
        assert (entry.before["accuracy_class"], entry.after["accuracy_class"]) == ("1.0", "0.5S")
    # the same values again change nothing and write no second history entry
    again = registry_io.update_entity(db, "meter", "m-sub", {"unit": "MWh"}, "alice")
    assert again["changed"] is False
    with session(db) as s:
        assert len(s.scalars(select(AuditEntry).where(AuditEntry.action == "update")).all()) == 1


@pytest.mark.parametrize(
    ("ref", "changes", "error", "text"),
    [
        ("m-sub", {"unit": "m3"}, ValidationError, "m3"),  # a volume unit for an energy meter
        ("m-sub", {"parent": "m-gas"}, ValidationError, "a parent meter measuring energy"),
        ("m-main", {"parent": "m-sub"}, ValidationError, "not this one or below it"),  # a cycle
        ("m-sub", {"code": "m-main"}, DuplicateError, "m-main"),
        ("m-sub", {"colour": "red"}, ValidationError, "fields of a meter"),
    ],
)
def test_bad_updates_name_the_field_and_change_nothing(
    db: str, ref: str, changes: dict[str, str], error: type[Exception], text: str
) -> None:
    before = _meter(db, ref)
    with pytest.raises(error, match=text):
        registry_io.update_entity(db, "meter", ref, changes, "alice")
    after = _meter(db, ref)
    assert (after.unit, after.parent_id, after.code) == (before.unit, before.parent_id, before.code)
    with session(db) as s:
        assert not s.scalars(select(AuditEntry).where(AuditEntry.action == "update")).all()


def test_quantity_of_a_meter_with_readings_is_kept(db: str) -> None:
    spare = _meter(db, "m-spare")
    registry_io.update_entity(db, "meter", "m-spare", {"quantity": "volume", "unit": "m3"}, "alice")
    registry_io.update_entity(db, "meter", "m-spare", {"quantity": "energy", "unit": "kWh"}, "alice")
    insert_readings(connect(db), [(spare.id, 1_700_000_000_000, 1.0, 0)])
    with pytest.raises(ConflictError, match="cannot change"):
        registry_io.update_entity(db, "meter", "m-spare", {"quantity": "volume", "unit": "m3"}, "alice")


def test_delete_refuses_what_others_refer_to_and_keeps_the_last_state(db: str) -> None:
    main, spare = _meter(db, "m-main"), _meter(db, "m-spare")
    with pytest.raises(ConflictError, match="1 meters"):  # m-sub hangs below m-main
        registry_io.delete_entity(db, "meter", main.handle, "alice")
    insert_readings(connect(db), [(spare.id, 1_700_000_000_000, 1.0, 0), (spare.id, 1_700_003_600_000, 2.0, 0)])
    with pytest.raises(ConflictError, match="2 readings"):
        registry_io.delete_entity(db, "meter", spare.handle, "alice")
    gas = _meter(db, "m-gas")
    deleted = registry_io.delete_entity(db, "meter", gas.handle, "alice")
    assert deleted["deleted"]["code"] == "m-gas"
    with session(db) as s:
        assert s.get(Meter, gas.id) is None
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "delete")).one()
        assert (entry.handle, entry.before["code"], entry.after) == (gas.handle, "m-gas", None)


def test_cli_update_and_delete(db: str) -> None:
    runner = CliRunner()
    res = runner.invoke(
        app, ["registry", "update", "meter", "m-sub", "--set", "name=分表", "--set", "parent=", "--db", db, "--json"]
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["changed"] is True and doc["entity"]["name"] == "分表" and doc["entity"]["parent_id"] is None
    res = runner.invoke(app, ["registry", "update", "meter", "m-sub", "--set", "nonsense", "--db", db])
    assert res.exit_code == 1 and "FIELD=VALUE" in res.stderr
    res = runner.invoke(app, ["registry", "delete", "meter", "m-sub", "--db", db, "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["deleted"]["code"] == "m-sub"
