"""Park evaluation over the store (issue 11 items 4 and 5) on SQLite and PostgreSQL.

A tiny park built through the registry import, metered readings and the accounting service; every
platform indicator is computed by hand in the comments and asserted. Figures used:

- grid electricity 0.5703 tCO2/MWh (MEE ETS reporting notice, national grid 2022 onward; the default
  factor set of the accounting engine);
- electricity 0.1229 kgce/kWh, equivalent value (GB/T 2589-2020 appendix A), for energy in tce;
- catalogue thresholds of docs/evaluation.md: shares on [0, 100]; 61 on [0, 10] %/a; 64 on [0, 200]
  10^4 CNY/person; 65 on [0.1, 1] tce/10^4 CNY, lower is better; 66 on [0, 8] %/a;
- appendix weights α, β, γ of the guide (docs/evaluation.md, "The catalogue").

The park (enterprises 甲 乙 丙 丁; 丁 has a meter that reported only in 2024 and no statistics):

=========  ======================  =========================================
meter      2025 (one reading a      2024
           month, 12 months)
=========  ======================  =========================================
m-a (甲)   10 000 kWh              150 000 kWh (December)
m-pv (甲)  1 000 kWh, PV device    -
m-b (乙)   20 000 kWh              150 000 kWh (December)
m-c (丙)   5 000 kWh               50 000 kWh (December)
m-d (丁)   -                       1 kWh (no source: no emissions)
=========  ======================  =========================================
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from sqlalchemy import select
from typer.testing import CliRunner

from carbonpark.cli.main import app
from carbonpark.errors import NotFoundError
from carbonpark.evaluate import IndicatorInput
from carbonpark.services import auth
from carbonpark.services import inventory as inv
from carbonpark.services.accounting import account_stored
from carbonpark.services.evaluation import evaluate_stored, platform_figures
from carbonpark.services.registry_io import import_registry, import_statistics
from carbonpark.store import connect, insert_readings, session, upgrade
from carbonpark.store.schema import Meter
from carbonpark.times import parse_timestamp
from conftest import _PG_PROBLEM, PG_URL
from test_api_park import PASSWORD, client_for, fast_hashing, login  # noqa: F401 (autouse fixture)

TZ = "Asia/Shanghai"
CODES = {"甲": "91350100M000100Y43", "乙": "91320500MA1XY00019", "丙": "91320500MA1XY0002C", "丁": "91110000600037341L"}
A, B, C, D = CODES["甲"], CODES["乙"], CODES["丙"], CODES["丁"]
REGISTRY = f"""
park: {{name: 评价测试园区, handle_prefix: "5678"}}
enterprises:
  - {{name: 甲化工, credit_code: {A}, industry_code: C2614}}
  - {{name: 乙化工, credit_code: {B}, industry_code: C2661}}
  - {{name: 丙五金, credit_code: {C}, industry_code: C3311}}
  - {{name: 丁商贸, credit_code: {D}, industry_code: F5191}}
devices:
  - {{name: 屋顶光伏, kind: pv, enterprise: {A}}}
  - {{name: 空压机, kind: compressor, enterprise: {B}}}
meters:
  - {{code: m-a, quantity: energy, unit: kWh, enterprise: {A}}}
  - {{code: m-pv, quantity: energy, unit: kWh, enterprise: {A}, device: "1"}}
  - {{code: m-b, quantity: energy, unit: kWh, enterprise: {B}}}
  - {{code: m-c, quantity: energy, unit: kWh, enterprise: {C}}}
  - {{code: m-d, quantity: energy, unit: kWh, enterprise: {D}}}
sources:
  - {{name: 甲外购电, enterprise: {A}, activity: purchased_electricity, scope: 2, meter: m-a}}
  - {{name: 乙外购电, enterprise: {B}, activity: purchased_electricity, scope: 2, meter: m-b}}
  - {{name: 丙外购电, enterprise: {C}, activity: purchased_electricity, scope: 2, meter: m-c}}
"""
# Yearly statistics. 乙 reports value added in 亿元 and output in CNY (converted to 10^4 CNY); 甲 also has a
# monthly value-added row of 2025-01, which must NOT be added to its yearly row (a year counted once).
STATISTICS = f"""enterprise,period,metric,value,unit
{A},2025,value_added,150,万元
{A},2025-01,value_added,999,万元
{A},2025,gross_output_value,400,万元
{A},2025,employees,20,persons
{B},2025,value_added,0.015,亿元
{B},2025,gross_output_value,8000000,CNY
{B},2025,employees,30,persons
{C},2025,value_added,50,万元
{C},2025,gross_output_value,200,万元
{C},2025,employees,10,persons
{A},2024,value_added,80,万元
{B},2024,value_added,150,万元
{C},2024,value_added,50,万元
{A},2024,employees,18,persons
{B},2024,employees,27,persons
{C},2024,employees,10,persons
"""
MONTHLY_KWH = {"m-a": 10_000.0, "m-pv": 1_000.0, "m-b": 20_000.0, "m-c": 5_000.0}
DECEMBER_2024_KWH = {"m-a": 150_000.0, "m-b": 150_000.0, "m-c": 50_000.0, "m-d": 1.0}
EF = 0.5703e-3  # tCO2/kWh
KGCE = 0.1229  # kgce/kWh, equivalent value


def ts(text: str) -> int:
    return parse_timestamp(text, TZ)


def build_tiny_park(db: str, folder: Path) -> dict[str, int]:
    """The park of the module docstring, accounted for 2024 and 2025; 甲's 2025 inventory submitted."""
    upgrade(db)
    (folder / "park.yaml").write_text(REGISTRY, encoding="utf-8")
    import_registry(db, folder / "park.yaml", "tester")
    (folder / "stats.csv").write_text(STATISTICS, encoding="utf-8")
    import_statistics(db, folder / "stats.csv", "tester")
    with session(db) as s:
        ids = {m.code: m.id for m in s.scalars(select(Meter))}
    rows = [(ids[c], ts(f"2025-{m:02d}-15T12:00"), v, 0) for m in range(1, 13) for c, v in MONTHLY_KWH.items()]
    rows += [(ids[c], ts("2024-12-15T12:00"), v, 0) for c, v in DECEMBER_2024_KWH.items()]
    insert_readings(connect(db), rows)
    account_stored(db, "park", "2024")
    account_stored(db, "park", "2025")
    account_stored(db, A, "2025")
    steps = [step.key for step in inv.inventory.INVENTORY_STEPS][:-1]  # all but external verification
    for name in steps:
        inv.step(db, A, 2025, name, "done", actor="tester")
    inv.submit(db, A, 2025, actor="tester")
    inv.save_version(db, B, 2025, actor="tester")  # a draft: not a completed inventory
    return ids


@contextmanager
def module_database(request: pytest.FixtureRequest, folder: Path) -> Iterator[str]:
    """A database for a whole module: a SQLite file, or a fresh PostgreSQL schema dropped afterwards."""
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'park.db'}"
        yield url
        connect(url).dispose()
        return
    if _PG_PROBLEM:
        pytest.skip(_PG_PROBLEM)
    schema = f"cp_eval_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    try:
        yield url
    finally:
        connect(url).dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def park(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The tiny park built once per module and backend, with users; the tests only read it."""
    folder = tmp_path_factory.mktemp("evaluation")
    with module_database(request, folder) as url:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
            build_tiny_park(url, folder)
            _users(url)
        yield url


# Hand computation of the figures (2025):
# devices: 2 devices + 5 meters = 7; networked: the PV device (its meter reported) + m-a, m-pv, m-b, m-c = 5
# enterprises 4; with 2025 readings 甲 乙 丙 = 3 (丁's meter reported in 2024 only); on the platform: the same 3
# (丁 has no statistics, readings or run of 2025); completed inventory: 甲 (submitted) = 1, 乙 a draft
# purchased electricity 12 × (10 000 + 20 000 + 5 000) = 420 000 kWh → 420 × 0.5703 = 239.526 tCO2e, 51.618 tce
# PV 12 × 1 000 = 12 000 kWh × 0.1229 kgce/kWh = 1.4748 tce; total energy 51.618 + 1.4748 = 53.0928 tce
# value added 150 + 0.015 亿元 (= 150 万元) + 50 = 350 万元 (甲's monthly 999 ignored: the yearly row is the year)
# output 400 + 8 000 000 CNY (= 800 万元) + 200 = 1 400 万元; employees 20 + 30 + 10 = 60 (2024: 18 + 27 + 10 = 55)
# 2024: 350 000 kWh → 199.605 tCO2e over 280 万元
SHARES = {2: 5 / 7 * 100, 5: 3 / 4 * 100, 7: 3 / 4 * 100, 15: 0.0, 52: 12_000 / 432_000 * 100, 56: 1 / 4 * 100}
I61 = (60 / 55 - 1) * 100  # 9.0909 %/a
I64 = 1_400 / 60  # 23.333 10^4 CNY/person
I65 = 432_000 * KGCE / 1000 / 350  # 0.151694 tce/10^4 CNY
I66 = (1 - (420 / 350) / (350 / 280)) * 100  # 1 − 1.2/1.25 = 4 %/a (EF cancels)


def test_platform_figures_counted_by_hand(park: str) -> None:
    with session(park) as s:
        figures, notes = platform_figures(s, 2025)
    assert (figures["devices_total"], figures["devices_networked"]) == (7, 5)
    assert figures["enterprises_total"] == 4
    assert figures["enterprises_standard_protocol"] == 3 and figures["enterprises_on_platform"] == 3
    assert figures["enterprises_inventory_completed"] == 1
    assert figures["identifiers_registered"] == 0  # the registry's handles were created now, not in 2025
    assert figures["emissions_tco2e"] == pytest.approx(420 * 0.5703)
    assert figures["emissions_previous_tco2e"] == pytest.approx(350 * 0.5703)
    assert figures["energy_clean_tce"] == pytest.approx(1.4748)
    assert figures["energy_total_tce"] == pytest.approx(51.618 + 1.4748)
    assert figures["gdp_10k_cny"] == pytest.approx(350) and figures["gdp_previous_10k_cny"] == pytest.approx(280)
    assert figures["output_10k_cny"] == pytest.approx(1400)
    assert (figures["employees"], figures["employees_previous"]) == (60, 55)
    assert "12000 kWh" in notes["energy_clean_tce"] and "0.1229" in notes["energy_clean_tce"]


def test_platform_indicators_and_score_by_hand(park: str) -> None:
    stored = evaluate_stored(park, 2025)
    by_id = {i.id: i for i in stored.evaluation.indicators}
    for ident, share in SHARES.items():
        assert by_id[ident].value == pytest.approx(share), ident
        assert by_id[ident].score == pytest.approx(share), ident  # thresholds 0 and 100: score = share
    assert by_id[57].score == 100.0  # a stored park run of 2025: yes
    assert by_id[61].value == pytest.approx(I61) and by_id[61].score == pytest.approx(I61 / 10 * 100)
    assert by_id[64].value == pytest.approx(I64) and by_id[64].score == pytest.approx(I64 / 200 * 100)
    # 65, lower is better on [0.1, 1]: 100 − (0.151694 − 0.1)/0.9 × 100 = 94.256
    assert by_id[65].value == pytest.approx(I65)
    assert by_id[65].score == pytest.approx(100 - (I65 - 0.1) / 0.9 * 100)
    assert by_id[66].value == pytest.approx(I66) and by_id[66].score == pytest.approx(I66 / 8 * 100)  # 50
    assert {58, 59, 63} <= set(stored.skipped)  # no previous enterprise count, output 3 years ago, park area
    assert set(stored.platform_ids) == {2, 5, 7, 15, 16, 17, 18, 52, 56, 57, 61, 64, 65, 66}
    # formula (9), level by level, with the appendix weights; every other indicator is missing (0 points)
    l2_1 = 0.2 * SHARES[2] + 0.2 * SHARES[5]  # (1) network: γ2 = γ5 = 0.2 → 29.286
    l2_2 = 0.4 * SHARES[7]  # (2) platform: γ7 = 0.4 → 30
    l1_1 = 0.3 * l2_1 + 0.3 * l2_2 + 0.2 * 0.0  # identifiers (4) all 0 → 17.786
    l2_13 = 0.2 * SHARES[52]  # γ52 = 0.2 → 0.5556
    l2_14 = 0.5 * SHARES[56] + 0.5 * 100  # 62.5
    l1_4 = 0.5 * l2_13 + 0.5 * l2_14  # 31.528
    s61, s64, s65, s66 = I61 * 10, I64 / 2, 100 - (I65 - 0.1) / 0.9 * 100, I66 / 8 * 100
    l2_15, l2_16, l2_17 = 0.2 * s61, 0.5 * s64, 0.5 * s65 + 0.5 * s66  # 18.18, 5.833, 72.128
    l1_5 = 0.2 * l2_15 + 0.2 * l2_16 + 0.2 * l2_17  # 19.229
    result = stored.evaluation
    assert float(result.level2[14]) == pytest.approx(62.5)
    assert float(result.level2[17]) == pytest.approx(l2_17)
    assert float(result.level1[1]) == pytest.approx(l1_1)
    assert float(result.level1[4]) == pytest.approx(l1_4)
    assert float(result.level1[5]) == pytest.approx(l1_5)
    assert float(result.score) == pytest.approx(0.15 * l1_1 + 0.2 * l1_4 + 0.25 * l1_5)  # 13.781


def test_an_entered_value_replaces_the_platform_one(park: str) -> None:
    stored = evaluate_stored(park, 2025, entered=[IndicatorInput(id=2, value=90.0, evidence="survey 2025")])
    row = next(i for i in stored.evaluation.indicators if i.id == 2)
    assert (row.value, row.score, row.source) == (90.0, 90.0, "entered")
    assert stored.entered_ids == (2,)


def test_a_year_without_data_is_not_found(park: str) -> None:
    with pytest.raises(NotFoundError, match="2019"):
        evaluate_stored(park, 2019)


def test_cli_store_mode_prints_one_document(park: str) -> None:
    result = CliRunner().invoke(app, ["evaluate", "--db", park, "--year", "2025", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["year"] == 2025 and doc["figures"]["devices_networked"] == 5
    assert doc["score"] == pytest.approx(float(evaluate_stored(park, 2025).evaluation.score))


def _users(db: str) -> None:
    with session(db) as s:
        auth.add_user(s, "admin", "park_admin", PASSWORD, "test")
        auth.add_user(s, "regulator", "regulator", PASSWORD, "test")
        auth.add_user(s, "ent-a", "enterprise", PASSWORD, "test", enterprise=1)


def test_api_evaluation_for_admin_and_regulator_not_for_an_enterprise(park: str) -> None:
    client = client_for(park)
    expected: Any = evaluate_stored(park, 2025).evaluation.score
    for user in ("admin", "regulator"):
        r = client.get("/api/evaluations/2025?top=3", headers=login(client, user))
        assert r.status_code == 200, r.text
        doc = r.json()
        assert doc["score"] == pytest.approx(float(expected))
        assert len(doc["weakest"]) == 3 and doc["figure_notes"]["devices_total"] == "2 devices + 5 meters registered"
    assert client.get("/api/evaluations/2025", headers=login(client, "ent-a")).status_code == 403
    assert client.get("/api/evaluations/2025").status_code == 401
    assert client.get("/api/evaluations/2019", headers=login(client, "admin")).status_code == 404
