"""The retrofit report: MACC chart geometry and the zh/en page (issue 13 item 6)."""

from __future__ import annotations

from carbonpark.reports.retrofit import macc_svg, render_retrofit_html

# Two projects, hand-made: a at -100 CNY/t over 300 t/yr, b at 50 CNY/t over 200 t/yr (ascending cost).
MACC = [
    {"id": "a", "name": "A", "cost_per_tco2e": -100, "annual_abatement_tco2e": 300, "capex": 1000},
    {"id": "b", "name": "B", "cost_per_tco2e": 50, "annual_abatement_tco2e": 200, "capex": 2000},
]


def test_macc_svg_labels_every_project() -> None:
    svg = macc_svg(MACC, lang="en", selected=["a"])
    assert svg.startswith("<svg")
    assert ">a<" in svg.replace("\n", "") or "a</text>" in svg
    assert "Cumulative abatement" in svg


def test_page_in_both_languages_shows_portfolio_and_conclusion() -> None:
    bundle = {
        "plan": {
            "year": 2025,
            "macc": MACC,
            "selected": ["a"],
            "total_abatement_tco2e": 300,
            "total_capex": 1000,
            "objective": "max_abatement",
        },
        "evaluation": {
            "conclusion": {"zh": "可接受", "en": "acceptable"},
            "annualised_by": 6,
            "achievability": [{"year": 2026, "cap": 4.6, "projected": 4.4, "achievable": True}],
            "benchmarks": {
                "park_energy_intensity_tce_per_10k_cny": 1.29,
                "national_energy_intensity_tce_per_10k_cny": 0.4538,
                "national_source": "NBS 2023",
            },
        },
    }
    zh = render_retrofit_html(bundle, "zh")
    en = render_retrofit_html(bundle, "en")
    assert "边际减排成本曲线" in zh and "可接受" in zh and "6 倍年化" in zh
    assert "Marginal abatement cost curve" in en and "acceptable" in en
    assert "0.4538" in en
