"""Chart builders of the dashboard, checked on their plotly figure (no browser)."""

from __future__ import annotations

from carbonpark.services.access import Principal
from carbonpark.web.pages import Ctx, _months_chart


def test_months_chart_shows_the_forecast_of_the_months_to_come() -> None:
    """Actuals for Jan–Feb, forecast bars for Mar–Apr (``target_status(...)["forecast"]``), cap to date."""
    ctx = Ctx(db=None, who=Principal(name="a", role="park_admin"), lang="en")
    months = [
        {"month": 1, "actual_tco2e": 100.04, "actual_to_date_tco2e": 100.04, "cap_to_date_tco2e": 90.0},
        {"month": 2, "actual_tco2e": 80.0, "actual_to_date_tco2e": 180.04, "cap_to_date_tco2e": 180.0},
    ]
    chart = _months_chart(ctx, months, {"forecast_tco2e": {"4": 70.26, "3": 75.0}})
    by_name = {t["name"]: t for t in chart.figure["data"]}
    assert by_name["actual"]["x"] == [1, 2] and by_name["actual"]["y"] == [100.0, 80.0]
    assert by_name["forecast"]["x"] == [3, 4] and by_name["forecast"]["y"] == [75.0, 70.3]  # sorted, 0.1 t
    assert by_name["cap to date"]["y"] == [90.0, 180.0]
    without = _months_chart(ctx, months)
    assert "forecast" not in {t["name"] for t in without.figure["data"]}
