"""Targets tracked against stored emission records (issue 13 item 1), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from carbonpark.cli.main import app
from carbonpark.errors import NotFoundError, ValidationError
from carbonpark.services.accounting import account_stored
from carbonpark.services.demo import build_demo
from carbonpark.services.targets import import_targets, target_status
from carbonpark.store import upgrade

TARGETS = """
targets:
  - {organisation: park, peak_year: 2027, peak_tco2e: 100000, neutrality_year: 2055, caps_tco2e: {2025: 50000}}
path:
  - {organisation: park, id: pv, name: 屋顶光伏, year: 2026, owner: 园区管委会, annual_abatement_tco2e: 500}
  - {organisation: park, id: ccus, name: CCUS, year: 2030, owner: 甲, annual_abatement_tco2e: 9e9, status: cancelled}
"""


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, float]]:
    """The small demo (January and February 2025) with the park accounted and targets imported."""
    path = tmp_path_factory.mktemp("targets")
    db = f"sqlite:///{path / 'demo.db'}"
    upgrade(db)
    build_demo(db, "small", seed=42, year=2025)
    doc = account_stored(db, "park", "2025")
    by_month: dict[str, float] = {}
    for row in doc["rows"]:
        if row["kind"] == "emission":
            by_month[row["period"][:7]] = by_month.get(row["period"][:7], 0.0) + row["tco2e"]
    (path / "targets.yaml").write_text(TARGETS, encoding="utf-8")
    assert import_targets(db, path / "targets.yaml", "tester") == {"created": 3, "updated": 0, "unchanged": 0}
    return db, by_month


def test_monthly_gap_rests_on_the_stored_records(demo_db: tuple[str, dict[str, float]]) -> None:
    db, by_month = demo_db
    status = target_status(db, "park", 2025)
    jan, feb = by_month["2025-01"], by_month["2025-02"]
    assert [m["month"] for m in status["months"]] == [1, 2]  # March on has no readings: missing, not zero
    m1, m2 = status["months"]
    assert m1["actual_tco2e"] == pytest.approx(jan) and m2["actual_tco2e"] == pytest.approx(feb)
    # cap to date pro rata by days: 50000 × 59/365 after February (2025 is not a leap year)
    assert m2["cap_to_date_tco2e"] == pytest.approx(50000 * 59 / 365)
    # projected: two actual months + the forecast of March–December (stored emissions, not the run rate)
    forecast = {int(m): v for m, v in status["forecast"]["forecast_tco2e"].items()}
    assert sorted(forecast) == list(range(3, 13)) and m2["basis"] == "actual 1–2, forecast 3–12"
    projected = (jan + feb) + sum(forecast.values())
    assert m2["projected_year_tco2e"] == pytest.approx(projected)
    assert m2["gap_tco2e"] == pytest.approx(projected - 50000)
    # after January, February is actual and not forecast: it is filled by January's run rate
    assert m1["projected_year_tco2e"] == pytest.approx(jan + jan + sum(forecast.values()))
    trajectory = status["path"]["trajectory_tco2e"]
    assert trajectory["2025"] == pytest.approx(projected)
    assert trajectory["2026"] == pytest.approx(projected - 500)  # PV from 2026; the cancelled CCUS counts nothing
    assert trajectory["2055"] == pytest.approx(projected - 500)  # flat after the last actual year
    checks = {(c["target"], c["year"]): c for c in status["checks"]}
    assert checks["cap_tco2e", 2025]["met"] is (projected <= 50000)
    assert checks["neutrality", 2055]["value"] == pytest.approx(projected - 500)
    assert checks["neutrality", 2055]["met"] is False


def test_rest_of_year_forecast_by_hand_with_seasonal_naive(demo_db: tuple[str, dict[str, float]]) -> None:
    """forecast(i) = Σ_c k_c · F_c(i) + run rate of the other activities, worked with seasonal naive.

    Seasonal naive (period 7 days) repeats the last week, 22–28 February 2025 (Saturday to
    Friday); 1 March 2025 is a Saturday, so day d of the rest of the year takes the value of
    22 February + (d − 1 March) mod 7. k_c is the park's stored tCO2e of the carrier's activities
    over January–February divided by its intake over the same 59 days.
    """
    import datetime as dt

    from carbonpark.services.forecasting import series_frame
    from carbonpark.services.targets import FORECAST_CARRIERS, forecast_rest_of_year

    db, _ = demo_db
    doc = account_stored(db, "park", "2025")
    by_activity: dict[int, dict[str, float]] = {1: {}, 2: {}}
    for row in doc["rows"]:
        if row["kind"] == "emission":
            month = by_activity[int(row["period"][5:7])]
            month[row["activity"]] = month.get(row["activity"], 0.0) + row["tco2e"]
    got, info = forecast_rest_of_year(db, "park", 2025, by_activity, model="seasonal_naive")
    assert info["run_rate_activities"] == ["purchased_heat"]  # the park has no steam intake meter
    expected = {i: sum(by_activity[m].get("purchased_heat", 0.0) for m in (1, 2)) / 2 for i in range(3, 13)}
    for carrier in ("electricity", "natural_gas"):
        frame = series_frame(db, org="park", carrier=carrier, freq="D").frame
        daily = {ts.date(): float(v) for ts, v in zip(frame["ts"], frame["value"], strict=True)}
        assert len(daily) == 59 and max(daily) == dt.date(2025, 2, 28)
        emitted = sum(by_activity[m].get(a, 0.0) for m in (1, 2) for a in FORECAST_CARRIERS[carrier])
        k = emitted / sum(daily.values())
        assert info["tco2e_per_unit"][carrier] == pytest.approx(k)
        day = dt.date(2025, 3, 1)
        while day.year == 2025:
            same_weekday = dt.date(2025, 2, 22) + dt.timedelta(days=(day - dt.date(2025, 3, 1)).days % 7)
            expected[day.month] += k * daily[same_weekday]
            day += dt.timedelta(days=1)
    assert got == pytest.approx(expected)


def test_reimport_changes_nothing_and_bad_files_name_the_field(
    demo_db: tuple[str, dict[str, float]], tmp_path: Path
) -> None:
    db, _ = demo_db
    good = tmp_path / "same.yaml"
    good.write_text(TARGETS, encoding="utf-8")
    assert import_targets(db, good, "tester") == {"created": 0, "updated": 0, "unchanged": 3}
    cases = [
        ("targets:\n  - {organisation: park, caps_tco2e: {2025: -1}}\n", ValidationError, "caps_tco2e"),
        ("targets:\n  - {organisation: park, colour: red}\n", ValidationError, "colour"),
        ("path:\n  - {organisation: park, id: x, name: X, year: 2026, owner: o}\n", ValidationError, "path"),
        ("targets:\n  - {organisation: 无此企业, caps_tco2e: {2025: 1}}\n", NotFoundError, "无此企业"),
    ]
    for text, error, fragment in cases:
        bad = tmp_path / "bad.yaml"
        bad.write_text(text, encoding="utf-8")
        with pytest.raises(error, match=fragment):
            import_targets(db, bad, "tester")
    assert target_status(db, "park", 2025)["targets"]["caps_tco2e"] == {"2025": 50000.0}  # nothing changed


def test_cli_targets_status_json(demo_db: tuple[str, dict[str, float]]) -> None:
    db, _ = demo_db
    res = CliRunner().invoke(app, ["targets", "status", "--org", "park", "--year", "2025", "--db", db, "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["org"].endswith("/park.1") and len(doc["months"]) == 2
    res = CliRunner().invoke(app, ["targets", "status", "--org", "88.1234/ent.1", "--year", "2025", "--db", db])
    assert res.exit_code == 1 and "targets import" in res.stderr


def test_targets_on_both_databases(db_url: str, tmp_path: Path) -> None:
    upgrade(db_url)
    from carbonpark.services.registry_io import import_registry

    (tmp_path / "r.yaml").write_text(
        'park: {name: P, handle_prefix: "77"}\n'
        "enterprises:\n  - {name: 甲, credit_code: 91350100M000100Y43, industry_code: C2614}\n",
        encoding="utf-8",
    )
    import_registry(db_url, tmp_path / "r.yaml", "t")
    (tmp_path / "t.yaml").write_text(
        "targets:\n  - {organisation: 91350100M000100Y43, peak_year: 2028, caps_tco2e: {2026: 10}}\n",
        encoding="utf-8",
    )
    assert import_targets(db_url, tmp_path / "t.yaml", "t")["created"] == 1
    status = target_status(db_url, "甲", 2026)
    assert status["org"] == "88.77/ent.1" and status["months"] == [] and status["checks"] == []
