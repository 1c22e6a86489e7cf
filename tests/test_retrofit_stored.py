"""Retrofit planning, ratings, admission and M&V over the store (issue 13 items 2-4), SQLite and PostgreSQL.

The tiny park of ``test_evaluation_stored`` (2025: 甲 10 000, 乙 20 000, 丙 5 000 kWh a month of purchased
electricity, 12 months, 0.5703 tCO2/MWh, the MEE grid factor of the accounting engine; value added 150, 150
and 50 万元) for the MACC, the portfolio and the ratings; the small demo park (January-February 2025,
annualised × 12/2) for the admission check and the API; a one-meter park for the M&V. Every figure is
computed by hand in the comments. Catalogue parameters: ``retrofit/data/measures-illustrative-2024.yaml``
(LED 50 % of the lighting use, 2 500 CNY/kW, 10 years; VFD 25 %, 800 CNY/kW, opex 1 % of capex, 15 years;
rooftop PV 1 100 kWh/kWp, 3 500 CNY/kWp, opex 1 %, 25 years).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

import test_evaluation_stored
from carbonpark.cli.main import app
from carbonpark.errors import ValidationError
from carbonpark.services import auth
from carbonpark.services import retrofit as svc
from carbonpark.services.accounting import account_stored
from carbonpark.services.demo import build_demo
from carbonpark.services.registry_io import import_registry, import_statistics
from carbonpark.services.targets import import_targets
from carbonpark.store import connect, insert_readings, session, upgrade
from carbonpark.store.schema import Meter, Statistic
from carbonpark.store.schema_accounting import AccountingRun
from carbonpark.times import parse_timestamp
from test_api_park import PASSWORD, client_for, fast_hashing, login  # noqa: F401 (autouse fixture)
from test_evaluation_stored import _users, module_database

park = test_evaluation_stored.park  # the tiny park, built once for this module and backend
EF = 0.5703e-3  # tCO2/kWh
PLAN: dict[str, Any] = {
    "discount_rate": 0,
    "prices_cny": {"electricity": 0.5},
    "projects": [
        # 甲: 120 000 kWh/yr, half of it lighting → 60 000; LED saves 50 % = 30 000 kWh = 17.109 t, 15 000 CNY;
        # capex 2 500 × 10 = 25 000; r = 0: annualised 25 000/10 − 15 000 = −12 500 → −730.61 CNY/t
        {"id": "led-a", "measure": "led_lighting", "enterprise": "甲化工", "activity": "purchased_electricity",
         "size": 10, "share_of_source": 0.5},
        # 乙: 240 000 kWh/yr, half on drives → 120 000; VFD saves 25 % = 30 000 kWh = 17.109 t, 15 000 CNY;
        # capex 800 × 100 = 80 000, opex 800; annualised 80 000/15 + 800 − 15 000 = −8 866.67 → −518.25 CNY/t
        {"id": "vfd-b", "measure": "vfd_motors", "enterprise": "乙化工", "activity": "purchased_electricity",
         "size": 100, "share_of_source": 0.5},
        # 丙: 50 kWp × 1 100 = 55 000 kWh = 31.3665 t, 27 500 CNY; capex 175 000, opex 1 750;
        # annualised 175 000/25 + 1 750 − 27 500 = −18 750 → −597.78 CNY/t
        {"id": "pv-c", "measure": "rooftop_pv", "enterprise": "丙五金", "activity": "purchased_electricity",
         "size": 50},
    ],
}  # fmt: skip
ABATE = {"led-a": 30_000 * EF, "vfd-b": 30_000 * EF, "pv-c": 55_000 * EF}
CAPEX = {"led-a": 25_000, "vfd-b": 80_000, "pv-c": 175_000}
ANNUALISED = {"led-a": -12_500.0, "vfd-b": 80_000 / 15 + 800 - 15_000, "pv-c": -18_750.0}


def test_source_baselines_come_from_the_stored_run(park: str) -> None:
    with session(park) as s:
        bases = svc.source_baselines(s, 2025)
    by_use = sorted((round(b["use"]), b["factor"]) for b in bases.values())
    assert [u for u, _ in by_use] == [60_000, 120_000, 240_000]  # 12 × 5 000, 12 × 10 000, 12 × 20 000 kWh
    assert all(f == pytest.approx(EF) for _, f in by_use)


def test_macc_and_portfolio_on_stored_sources_by_hand(park: str) -> None:
    planned = svc.plan_stored(park, 2025, PLAN, budget=Decimal(190_000))
    macc = planned["macc"]
    assert [e["id"] for e in macc] == ["led-a", "pv-c", "vfd-b"]  # −730.61 < −597.78 < −518.25 CNY/t
    for e in macc:
        assert float(e["annual_abatement_tco2e"]) == pytest.approx(ABATE[e["id"]])
        assert float(e["capex"]) == CAPEX[e["id"]]
        assert float(e["annualised_cost"]) == pytest.approx(ANNUALISED[e["id"]], abs=0.01)
        assert float(e["cost_per_tco2e"]) == pytest.approx(ANNUALISED[e["id"]] / ABATE[e["id"]], rel=1e-6)
    assert float(macc[-1]["cumulative_abatement_tco2e"]) == pytest.approx(sum(ABATE.values()))
    # budget 190 000: {led, vfd} 105 000 → 34.218 t; {pv} 175 000 → 31.37 t; {led, pv} 200 000 is over budget
    assert sorted(planned["selected"]) == ["led-a", "vfd-b"]
    assert float(planned["total_capex"]) == 105_000
    assert float(planned["total_abatement_tco2e"]) == pytest.approx(60_000 * EF)
    # a target of 40 t at least annualised cost: every project has a negative cost, so all three (−40 116.67)
    target = svc.plan_stored(park, 2025, PLAN, target_tco2e=Decimal(40))
    assert sorted(target["selected"]) == ["led-a", "pv-c", "vfd-b"]
    assert float(target["total_annualised_cost"]) == pytest.approx(sum(ANNUALISED.values()), abs=0.01)


def test_a_project_on_a_source_without_records_is_refused(park: str) -> None:
    bad = {**PLAN, "projects": [{"id": "x", "measure": "led_lighting", "enterprise": "丁商贸",
                                 "activity": "purchased_electricity", "size": 1}]}  # fmt: skip
    with pytest.raises(Exception, match="丁商贸"):
        svc.plan_stored(park, 2025, bad)


def test_ratings_against_a_hand_ranking(park: str) -> None:
    plan = {"industry_benchmarks": {"C26": 0.8}, "enterprises": {"甲化工": {"land_mu": 30}}}
    doc = svc.rate_stored(park, 2025, plan)
    # L = emissions / value added [t/万元]: 甲 68.436/150 = 0.45624; 乙 136.872/150 = 0.91248; 丙 34.218/50 = 0.68436
    # K = L / industry average: C26 (甲, 乙) the given 0.8 → 0.5703 (grade 1, ≤ 0.6) and 1.1406 (grade 3, ≤ 1.2);
    # C33 (丙) has no benchmark: the pooled park average of C33 is 丙 itself → K = 1 (grade 3)
    # park ranking by K: 甲 (0.5703), 丙 (1.0), 乙 (1.1406); 丁 has no value added and is not rated.
    # Only 甲 was accounted on its own: 乙 and 丙 get their share of the park's run.
    rows = doc["ratings"]
    assert [r["name"] for r in rows] == ["甲化工", "丙五金", "乙化工"]
    assert [r["grade"] for r in rows] == [1, 3, 3]
    assert [r["rank_in_industry"] for r in rows] == [1, 1, 2]
    assert [r["k"] for r in rows] == pytest.approx([120_000 * EF / 150 / 0.8, 1.0, 240_000 * EF / 150 / 0.8])
    assert rows[0]["emissions_per_mu_tco2e"] == pytest.approx(120_000 * EF / 30)  # 2.2812 t/mu
    assert rows[0]["energy_intensity_tce_per_10k_cny"] == pytest.approx(120_000 * 0.1229e-3 / 150)
    assert rows[1]["benchmark_source"] == "pooled park average of the industry"
    shares = {i["industry"]: i["emission_share"] for i in doc["industries"]}
    assert shares["C26"] == pytest.approx(360 / 420) and shares["C33"] == pytest.approx(60 / 420)


# --------------------------------------------------------------------------- M&V on stored meter data

MV_CODE = "91350100M000100Y43"
MV_REGISTRY = f"""
park: {{name: 节能核证园区, handle_prefix: "5679"}}
enterprises:
  - {{name: 节能示范厂, credit_code: {MV_CODE}, industry_code: C3311}}
products:
  - {{code: p1, name: 冲压件, unit: t, enterprise: {MV_CODE}}}
meters:
  - {{code: m-main, quantity: energy, unit: kWh, enterprise: {MV_CODE}}}
sources:
  - {{name: 总进线, enterprise: {MV_CODE}, activity: purchased_electricity, scope: 2, meter: m-main}}
"""
# 2024, a constant daily mean temperature each month [°C]; HDD18 = days × max(0, 18 − T); CDD26 is 0 all year.
TEMPS = {1: 3, 2: 5, 3: 10, 4: 15, 5: 20, 6: 25, 7: 25, 8: 25, 9: 22, 10: 16, 11: 10, 12: 5}
DAYS = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31}
HDD = {m: DAYS[m] * max(0, 18 - t) for m, t in TEMPS.items()}  # Jan 465, Feb 377, Mar 248, Apr 90, Oct 62 …
OUTPUT = {1: 100, 2: 250, 3: 200, 4: 400, 5: 350, 6: 600, 10: 300, 11: 400, 12: 500}  # t of p1


def _model(month: int) -> float:
    """The true baseline: 1 000 kWh + 2 kWh/t × output + 10 kWh/K·d × HDD."""
    return 1000 + 2 * OUTPUT[month] + 10 * HDD[month]


# baseline Jan-Jun: 5 850, 5 270, 3 880, 2 700, 1 700, 2 200 kWh (exactly on the model: R² = 1, CV(RMSE) = 0)
# after the project (Oct-Dec) the site uses 90 % of the model: adjusted 2 220 + 4 200 + 6 030 = 12 450 kWh,
# metered 11 205, avoided 1 245 kWh → 1 245 × 0.5703e-3 = 0.7100 tCO2e; money 1 245 × 0.5 = 622.50 CNY.
# Plan 10 t/yr and 4 000 CNY/yr, pro rata 3/12: 2.5 t and 1 000 CNY; realisation 0.7100/2.5 = 28.4 %.
METERED = {m: _model(m) for m in range(1, 7)} | {m: 0.9 * _model(m) for m in (10, 11, 12)}


def _mv_park(db: str, folder: Path) -> Path:
    upgrade(db)
    (folder / "mv.yaml").write_text(MV_REGISTRY, encoding="utf-8")
    import_registry(db, folder / "mv.yaml", "tester")
    lines = ["enterprise,period,metric,value,unit"] + [
        f"{MV_CODE},2024-{m:02d},output:p1,{v},t" for m, v in OUTPUT.items()
    ]
    (folder / "stats.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    import_statistics(db, folder / "stats.csv", "tester")
    with session(db) as s:
        meter = s.scalars(select(Meter)).one().id
    rows = [(meter, parse_timestamp(f"2024-{m:02d}-15T12:00", "Asia/Shanghai"), v, 0) for m, v in METERED.items()]
    insert_readings(connect(db), rows)
    account_stored(db, MV_CODE, "2024")  # the source's emission factor comes from these records
    weather = folder / "weather.csv"
    day, text = date(2024, 1, 1), ["ts,temperature_c"]
    while day.year == 2024:
        text += [
            f"{day.isoformat()}T06:00:00,{TEMPS[day.month] - 4}",
            f"{day.isoformat()}T18:00:00,{TEMPS[day.month] + 4}",
        ]
        day += timedelta(days=1)
    weather.write_text("\n".join(text) + "\n", encoding="utf-8")
    return weather


def test_realised_against_planned_savings_from_meter_data(db_url: str, tmp_path: Path) -> None:
    weather = _mv_park(db_url, tmp_path)
    args = dict(
        planned_annual_abatement_tco2e=Decimal(10),
        planned_annual_savings_cny=Decimal(4000),
        price_cny=Decimal("0.5"),
        weather=weather,
    )
    doc = svc.verify_savings_stored(db_url, "总进线", "2024-01:2024-06", "2024-10:2024-12", **args)
    model = doc["baseline_model"]
    assert model["intercept"] == pytest.approx(1000, abs=1e-6)
    assert model["coefficients"]["output"] == pytest.approx(2) and model["coefficients"]["hdd"] == pytest.approx(10)
    assert model["coefficients"]["cdd"] == 0.0  # constant (0) over the baseline: left out
    assert model["r_squared"] == pytest.approx(1) and model["meets_ashrae_guideline_14_monthly"]
    assert doc["output_metric"] == "output:p1" and doc["drivers"] == ["output", "hdd", "cdd"]
    assert [p["adjusted_baseline"] for p in doc["periods"]] == pytest.approx([2220, 4200, 6030])
    assert doc["avoided_energy"] == pytest.approx(1245)
    assert doc["emission_factor_tco2e_per_unit"] == pytest.approx(EF)
    assert doc["realised_abatement_tco2e"] == pytest.approx(1245 * EF)
    assert doc["planned_abatement_tco2e"] == pytest.approx(2.5)
    assert doc["realisation"] == pytest.approx(1245 * EF / 2.5)
    assert doc["realised_savings_cny"] == Decimal("622.50") and doc["planned_savings_cny"] == Decimal("1000.00")
    # Jul-Sep have no readings: gaps, left out of nothing (they are outside both windows) — a gap inside one is
    # skipped with its reason instead of being taken as zero
    gap = svc.verify_savings_stored(db_url, "总进线", "2024-01:2024-06", "2024-08:2024-10", **args)
    assert gap["reporting_months"] == ["2024-10"]
    assert gap["skipped_months"] == {
        "2024-08": "no readings (a gap, not a zero)",
        "2024-09": "no readings (a gap, not a zero)",
    }
    with pytest.raises(ValidationError, match="after the baseline"):
        svc.verify_savings_stored(db_url, "总进线", "2024-01:2024-06", "2024-05:2024-07", **args)
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["retrofit", "verify-savings", "--db", db_url, "--source", "总进线", "--baseline", "2024-01:2024-06",
         "--reporting", "2024-10:2024-12", "--planned-tco2e", "10", "--planned-cny", "4000", "--price", "0.5",
         "--weather", str(weather), "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["avoided_energy"] == pytest.approx(1245)
    bad = runner.invoke(
        app,
        ["retrofit", "verify-savings", "--db", db_url, "--source", "总进线", "--baseline", "2024-13",
         "--reporting", "2024-10", "--planned-tco2e", "10", "--planned-cny", "1", "--price", "0.5"],
    )  # fmt: skip
    assert bad.exit_code == 1 and bad.stdout == "" and "YYYY-MM" in bad.stderr


# --------------------------------------------------------------------------- the small demo park


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The small demo park (Jan-Feb 2025), the park accounted, the demo targets imported, users added."""
    from argon2 import PasswordHasher

    folder = tmp_path_factory.mktemp("demo")
    with module_database(request, folder) as url:
        upgrade(url)
        build_demo(url, "small", seed=42, year=2025)
        account_stored(url, "park", "2025")
        targets = Path(svc.__file__).parent / "data" / "demo-targets.yaml"
        import_targets(url, targets, "tester")
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
            _users(url)
        yield url


def test_admission_check_on_the_demo_park(demo: str) -> None:
    plan = svc.load_plan()
    candidate = plan["candidate"]  # 9 000 tCO2e/yr, 2 600 万元, 3 100 tce, industry C26
    doc = svc.admission_stored(demo, 2025, candidate, plan)
    with session(demo) as s:
        run = s.scalars(select(AccountingRun).where(AccountingRun.org == "park")).one()
        total, energy = run.summary["total_tco2e"], run.summary["energy_tce"]
        value_added = sum(s.scalars(select(Statistic.value).where(Statistic.metric == "value_added")))
    # two months of data (Jan, Feb): annualised × 12/2 = 6
    e0, v0 = 6 * total, 6 * value_added
    assert doc["annualised_by"] == 6
    assert doc["park_intensity_before"] == pytest.approx(e0 / v0)
    assert doc["park_intensity_after"] == pytest.approx((e0 + 9000) / (v0 + 2600))
    assert doc["candidate_intensity"] == pytest.approx(9000 / 2600)
    checks = {c["name"]: c for c in doc["checks"]}
    # demo targets: cap 125 000 tCO2e for 2025, intensity cap 4.8 t/万元
    total_check = next(c for n, c in checks.items() if "intensity" not in n)
    intensity_check = next(c for n, c in checks.items() if "intensity" in n)
    assert total_check["limit"] == 125_000 and total_check["after"] == pytest.approx(e0 + 9000)
    assert total_check["headroom_after"] == pytest.approx(125_000 - e0 - 9000)
    assert intensity_check["limit"] == 4.8
    assert intensity_check["after"] == pytest.approx((e0 + 9000) / (v0 + 2600))
    assert doc["admissible"] is (e0 + 9000 <= 125_000 and (e0 + 9000) / (v0 + 2600) <= 4.8)
    # the candidate's K against the plan's C26 benchmark 5.0: 3.4615/5 = 0.692 → grade 2 (0.6 < K ≤ 0.8)
    assert doc["grade"] == 2
    assert energy > 0


def test_api_retrofit_routes_with_logins(demo: str) -> None:
    client = client_for(demo)
    admin = login(client, "admin")
    plan = client.get("/api/retrofit/2025/plan", headers=admin)
    assert plan.status_code == 200, plan.text
    costs = [e["cost_per_tco2e"] for e in plan.json()["macc"]]
    assert costs == sorted(costs) and plan.json()["evaluation"]["conclusion"]["zh"]
    ratings = client.get("/api/retrofit/2025/ratings", headers=admin)
    assert ratings.status_code == 200 and len(ratings.json()["ratings"]) == 6
    assert sorted(r["rank_in_park"] for r in ratings.json()["ratings"]) == [1, 2, 3, 4, 5, 6]
    body = {"name": "候选", "emissions_tco2e": 9000, "value_added_10k_cny": 2600, "energy_tce": 3100, "industry": "C26"}
    admitted = client.post("/api/retrofit/2025/admission", headers=admin, json=body)
    assert admitted.status_code == 200 and admitted.json()["candidate_intensity"] == pytest.approx(9000 / 2600)
    bad = client.post("/api/retrofit/2025/admission", headers=admin, json={**body, "value_added_10k_cny": 0})
    assert bad.status_code == 422
    enterprise = login(client, "ent-a")
    assert client.get("/api/retrofit/2025/plan", headers=enterprise).status_code == 403
    assert client.get("/api/retrofit/2025/ratings", headers=enterprise).status_code == 403
    assert client.post("/api/retrofit/2025/admission", headers=enterprise, json=body).status_code == 403
    assert client.get("/api/retrofit/2025/ratings", headers=login(client, "regulator")).status_code == 403
    assert client.get("/api/evaluations/2025", headers=enterprise).status_code == 403


def test_intensity_target_achievability_rests_on_the_forecast(demo: str) -> None:
    plan = svc.load_plan()
    planned = svc.plan_stored(demo, 2025, plan)
    doc = svc.carbon_evaluation(demo, 2025, plan, planned)
    assert doc["achievability_basis"].startswith("forecast scenario business_as_usual")
    with session(demo) as s:
        run = s.scalars(select(AccountingRun).where(AccountingRun.org == "park")).one()
        e0 = 6 * run.summary["total_tco2e"]  # Jan-Feb annualised
        v0 = 6 * sum(s.scalars(select(Statistic.value).where(Statistic.metric == "value_added")))
    rows = {a["year"]: a for a in doc["achievability"]}
    assert sorted(rows) == [2025, 2026, 2027, 2030]  # the demo's intensity caps from 2025 on
    # The forecast's business-as-usual path is the elasticity method with constant factors, so its emissions
    # grow as (output value)^e: output value +5 %/yr to 2029, +4 % in 2030 (services.forecasting's demo
    # path), e = 0.6 (low 0.4, high 0.8). 2027: r_V = 1.05² = 1.1025, r_E = 1.05^1.2 = 1.06031.
    r_v = {2025: 1.0, 2026: 1.05, 2027: 1.05**2, 2030: 1.05**4 * 1.04}
    selected = {p["id"]: p for p in planned["projects"] if p["id"] in planned["selected"]}
    for year, row in rows.items():
        cut = sum(float(p["annual_abatement_tco2e"]) for p in selected.values() if p["start_year"] <= year)
        assert row["value_added_growth_factor"] == pytest.approx(r_v[year])
        assert row["emissions_growth_factor"] == pytest.approx(r_v[year] ** 0.6)
        assert row["projected"] == pytest.approx((e0 * r_v[year] ** 0.6 - cut) / (v0 * r_v[year]))
        assert row["projected_high"] == pytest.approx((e0 * r_v[year] ** 0.8 - cut) / (v0 * r_v[year]))
        assert row["achievable"] is (row["projected"] <= row["cap"])
    assert doc["acceptable"] is all(r["achievable"] for r in rows.values())


def test_achievability_falls_back_to_the_plan_rates_without_intakes(park: str) -> None:
    # the tiny park has no intake series to forecast from: (1 + g)^n from the plan, and the reason is said
    paths = svc.growth_paths(park, 2025, {"growth": {"value_added": 0.06, "emissions": 0.02}}, [2027])
    assert paths["basis"].startswith("plan growth rates") and "no forecast from the store" in paths["basis"]
    assert paths["emissions"][2027] == pytest.approx((1.02**2,) * 3)
    assert paths["value_added"][2027] == pytest.approx(1.06**2)


def _pdf_text(path: Path) -> str:
    """The text of a PDF (poppler's pdftotext) without whitespace, so that text wrapped in table cells compares."""
    import subprocess

    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True, text=True)
    return "".join(out.stdout.split())


def test_cli_reports_carry_admission_and_ratings(demo: str, tmp_path: Path) -> None:
    """``retrofit stored --report`` and ``retrofit admit --report``: the dashboard's full report from the CLI."""
    plan = svc.load_plan()
    admission = svc.admission_stored(demo, 2025, plan["candidate"], plan)
    ratings = svc.rate_stored(demo, 2025, plan)["ratings"]
    first = next(r for r in ratings if r["rank_in_park"] == 1)
    report = tmp_path / "stored.pdf"
    res = CliRunner().invoke(
        app, ["retrofit", "stored", "--year", "2025", "--db", demo, "--report", str(report), "--lang", "en"]
    )
    assert res.exit_code == 0, res.output
    text = _pdf_text(report)
    squeeze = lambda t: "".join(str(t).split())  # noqa: E731
    assert "Admissioncheck" in text and squeeze(admission["conclusion"])[:40] in text
    assert squeeze(first["name"]) in text and squeeze(first["reason"])[:30] in text

    candidate = tmp_path / "candidate.yaml"
    candidate.write_text(
        "name: 新材料项目\nindustry: C26\nemissions_tco2e: 3000\nenergy_tce: 1200\nvalue_added_10k_cny: 900\n",
        encoding="utf-8",
    )
    report = tmp_path / "admit.html"
    args = ["retrofit", "admit", "--year", "2025", "--candidate", str(candidate), "--db", demo, "--json"]
    res = CliRunner().invoke(app, [*args, "--report", str(report)])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)  # stdout stays one JSON document; the report goes to the file
    assert doc["candidate"] == "新材料项目" and doc["candidate_intensity"] == pytest.approx(3000 / 900)
    from html import escape

    html = report.read_text(encoding="utf-8")
    assert escape(doc["conclusion"]) in html and "准入" in html and first["name"] in html
    res = CliRunner().invoke(app, [*args, "--report", str(tmp_path / "admit.docx")])
    assert res.exit_code == 1 and ".pdf or .html" in res.stderr
