"""Browser tests of the dashboard (issue 14 item 4): Playwright for Python driving Debian's Chromium.

A small demo park (``build_demo(db, "small")`` + the accounting demo step + the demo users) is
served by uvicorn on a free port in a thread; Chromium runs headless with the flags of DESIGN.md
(``executable_path="/usr/bin/chromium"``, never a downloaded browser). Screenshots go to the
pytest tmp dir (artefacts).
"""

from __future__ import annotations

import csv
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import pytest

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "web-demo-password-1"
if not Path(CHROMIUM).exists():
    if os.environ.get("CI") == "true":
        raise RuntimeError("expected Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)")
    pytest.skip("no /usr/bin/chromium", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    import uvicorn

    from carbonpark.api.app import create_app
    from carbonpark.services.accounting import demo_step
    from carbonpark.services.auth import SecuritySettings, create_demo_users
    from carbonpark.services.demo import build_demo
    from carbonpark.services.footprints import demo_footprints
    from carbonpark.services.ledger import demo_attestation
    from carbonpark.services.retrofit import demo_step as retrofit_demo_step
    from carbonpark.services.trading import demo_step as trading_demo_step
    from carbonpark.store import session

    tmp = tmp_path_factory.mktemp("web")
    db = str(tmp / "park.db")
    build_demo(db, "small", seed=7, year=2025, out_dir=tmp)
    demo_step(db, 2025, tmp)
    with session(db) as s:
        create_demo_users(s, PASSWORD, 2025, SecuritySettings())
    # the demo steps whose data the trading, targets, retrofit, footprint and ledger pages show
    trading_demo_step(db, 2025, tmp)
    retrofit_demo_step(db, 2025, tmp)  # imports services/data/demo-targets.yaml
    demo_footprints(db, 2025, tmp)
    demo_attestation(db, tmp)  # signs the ledger's head
    port = _free_port()
    config = uvicorn.Config(create_app(db), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(100):
        if srv.started:
            break
        time.sleep(0.1)
    yield {"url": f"http://127.0.0.1:{port}", "db": db, "tmp": tmp}
    srv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    profile = tmp_path_factory.mktemp("chromium-profile")
    with playwright_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=FLAGS, viewport={"width": 1920, "height": 1080}
        )
        yield context
        context.close()


class Watch:
    """Console errors and failed requests of a page."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        self.failed: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("requestfailed", self._failed)
        page.on("response", lambda r: self.failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)

    def _failed(self, request: Any) -> None:
        # the monitoring page's EventSource is cut when the browser leaves the page: not a failure
        if "/web/monitoring/stream" in request.url and "ERR_ABORTED" in (request.failure or ""):
            return
        self.failed.append(f"{request.failure} {request.url}")


def _login(page: Any, url: str, user: str) -> None:
    page.goto(f"{url}/web/login")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("#login")
    page.wait_for_url("**/web/overview")


#: Pages that must draw at least one chart for the park admin with the demo data.
CHART_PAGES = {
    "overview",
    "forecast",
    "dispatch",
    "evaluation",
    "ratings",
    "monitoring",
    "retrofit",  # the MACC
    "trading",
    "footprint",  # the Sankey
    "targets",  # caps, path, actual, forecast; the months
    "energy",  # position and quotas
    "admission",  # before and after against each limit
}


def _charts_drawn(page: Any, key: str) -> int:
    """Wait for plotly on a page with charts; every chart area must hold drawn traces. Returns the chart count."""
    plots = page.locator(".plot").count()
    if plots:
        page.wait_for_selector(".plot .main-svg", timeout=15_000)
        drawn = page.eval_on_selector_all(
            ".plot", "ps => ps.filter(p => p.querySelector('svg.main-svg g.trace, svg.main-svg path')).length"
        )
        assert drawn == plots, f"{key}: {plots - drawn} of {plots} charts empty"
    return plots


def _sankey_links(db: str) -> int:
    """Links of the footprint page's Sankey for the first product in the admin's scope."""
    from carbonpark.web.pages import footprints_of

    result = footprints_of(db, 2025)
    fp = result.footprints[next(iter(result.footprints))]
    stages = {k: float(v) for k, v in fp.by_stage.items() if float(v)}
    inputs = [v for v in fp.by_input.values() if float(v)] if "raw_materials" in stages else []
    return len(stages) + len(inputs)


def test_every_menu_page_loads_for_each_role(server: dict[str, Any], browser: Any, tmp_path: Path) -> None:
    page = browser.new_page()
    watch = Watch(page)
    seen: dict[str, list[str]] = {}
    for user in ("demo-admin", "demo-enterprise", "demo-verifier", "demo-regulator"):
        browser.clear_cookies()
        _login(page, server["url"], user)
        keys = page.eval_on_selector_all("nav.menu a", "els => els.map(e => e.dataset.page)")
        seen[user] = keys
        for key in keys:
            page.goto(f"{server['url']}/web/{key}")
            page.wait_for_load_state("load")
            assert page.locator("h1").first.inner_text().strip(), key
            charts = _charts_drawn(page, key)  # every role: no empty chart area
            if user == "demo-admin" and key in CHART_PAGES:
                assert charts > 0, f"{key} has no chart"
                assert page.locator('.note[data-key="note.chart_empty"]').count() == 0, key
            if user == "demo-admin" and key == "footprint":
                # the first product (chem1-chem): one link per non-zero life-cycle stage into the product and one
                # per non-zero input into the raw-material stage (demo BOM, services/demo.py; transport legs)
                links = page.eval_on_selector_all(".plot g.sankey path.sankey-link", "els => els.length")
                assert links == _sankey_links(server["db"]) >= 4, links
            if user == "demo-admin" and key == "retrofit":
                # one MACC bar per project of the portfolio table
                bars = page.eval_on_selector_all(".plot g.trace.bars g.point", "els => els.length")
                projects = page.locator('section[data-title="table.portfolio"] tbody tr').count()
                assert bars == projects > 0, (bars, projects)
            page.screenshot(path=str(tmp_path / f"{user}-{key}.png"), full_page=False)
        assert not watch.errors, (user, watch.errors)
        assert not watch.failed, (user, watch.failed)
    # role-aware menus: only the park admin dispatches; the verifier has no trading; everyone has the overview
    assert "dispatch" in seen["demo-admin"] and "dispatch" not in seen["demo-enterprise"]
    assert "trading" not in seen["demo-verifier"]
    assert "upload" not in seen["demo-regulator"]
    assert all("overview" in keys for keys in seen.values())
    page.close()


def _rows(page: Any, title: str) -> list[list[str]]:
    """The cells of a page's table (``section[data-title=title]``) as text."""
    return list(
        page.eval_on_selector_all(
            f'section[data-title="{title}"] tbody tr',
            "trs => trs.map(tr => Array.from(tr.cells).map(td => td.innerText.trim()))",
        )
    )


def _park_total(db: str, org: str) -> dict[str, Any]:
    from carbonpark.services.accounting import stored_document

    return stored_document(db, org, "2025")


def test_login_upload_csv_updates_readings_and_emissions(server: dict[str, Any], browser: Any, tmp_path: Path) -> None:
    from carbonpark.services.access import Principal, list_readings
    from carbonpark.store import session
    from carbonpark.store.registry import resolve
    from carbonpark.store.schema import Meter
    from carbonpark.times import parse_timestamp, period_bounds_ms

    db = server["db"]
    before = _park_total(db, "88.1234/ent.1")
    grid = [r for r in before["rows"] if r["source"] == "88.1234/src.1"]
    factor_t_per_kwh = grid[0]["tco2e"] / grid[0]["activity_amount"]  # the run's own grid factor [t/kWh]
    path = tmp_path / "readings.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["meter", "ts", "value", "unit"])
        # three hours of March 2025 for meter chem1-E-main (source src.1, grid electricity), 1,000 kWh each
        for hour in range(3):
            w.writerow(["chem1-E-main", f"2025-03-01T0{hour}:00:00", "1000", "kWh"])
        w.writerow(["chem1-E-main", "2025-03-01T05:00:00", "abc", "kWh"])  # not a number: quarantined
        # another enterprise's meter (metal1 is enterprise 2): out of the uploader's scope, quarantined, not stored
        w.writerow(["metal1-E-main", "2025-03-01T06:00:00", "500", "kWh"])
    page = browser.new_page()
    watch = Watch(page)
    browser.clear_cookies()
    _login(page, server["url"], "demo-enterprise")
    page.goto(f"{server['url']}/web/upload")
    page.set_input_files("#file", str(path))
    page.click("#upload")
    page.wait_for_selector('[data-key="upload.accepted"]', timeout=30_000)
    page.screenshot(path=str(tmp_path / "upload-result.png"))
    assert page.inner_text('[data-key="upload.accepted"]').split()[0] == "3"
    assert page.inner_text('[data-key="upload.quarantined"]').split()[0] == "2"
    by_line = {r[0]: r for r in _rows(page, "upload.quarantined_rows")}
    assert set(by_line) == {"5", "6"}  # lines 5 and 6 of the file (line 1 is the header)
    assert by_line["6"][1] == "metal1-E-main" and by_line["6"][4] == "out_of_scope"
    assert _rows(page, "upload.reaccounted")
    with session(db) as s:
        who = Principal("admin", "park_admin")
        start, end = period_bounds_ms("2025-03", "Asia/Shanghai")
        meter = resolve(s, Meter, "chem1-E-main")
        got = list_readings(s, who, str(meter.id), start_ms=start, end_ms=end, limit=10).to_dict()
        other = resolve(s, Meter, "metal1-E-main")
        other_start = parse_timestamp("2025-03-01T06:00:00")  # naive = park-local time
        theirs = list_readings(s, who, str(other.id), start_ms=other_start, end_ms=other_start + 1, limit=10)
    values = [r["value"] for r in got["items"]]
    assert values == [1000.0, 1000.0, 1000.0]
    assert theirs.to_dict()["items"] == []  # nothing of the out-of-scope row was stored
    after = _park_total(db, "88.1234/ent.1")
    # 3 × 1,000 kWh more grid electricity: + 3,000 kWh × the factor of the same run (formula (5) of the guide)
    assert after["total_tco2e"] - before["total_tco2e"] == pytest.approx(3000 * factor_t_per_kwh, rel=1e-6)
    page.goto(f"{server['url']}/web/accounting")
    assert "2025-03" in page.inner_text("main")
    assert not watch.errors and not watch.failed, (watch.errors, watch.failed)
    page.close()


#: tCO2 per t of diesel: NDRC 2015 guideline defaults (GB/T 32151 series) NCV 42.652 GJ/t, CC 20.2 tC/TJ, OF 0.98.
DIESEL_T = 42.652 * 20.2e-3 * 0.98 * 44 / 12


def test_login_upload_activity_data_quarantines_and_updates_emissions(
    server: dict[str, Any], browser: Any, tmp_path: Path
) -> None:
    """Upload → result page lists the quarantined lines with reasons → the enterprise's emissions include the rest."""
    from openpyxl import load_workbook

    db = server["db"]
    before = _park_total(db, "88.1234/ent.1")["total_tco2e"]
    park_before = _park_total(db, "park")["total_tco2e"]
    path = tmp_path / "activity.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["source", "activity", "amount", "unit", "enterprise", "period"])
        w.writerow(["forklift fleet", "diesel", "2", "t", "", "2025-03"])  # 2: stored for the uploader's enterprise
        w.writerow(["bad amount", "diesel", "abc", "t", "", "2025-03"])  # 3: malformed
        w.writerow(["unknown fuel", "unobtainium", "1", "t", "", "2025-03"])  # 4: invalid
        w.writerow(["metal shop", "diesel", "1", "t", "88.1234/ent.2", "2025-03"])  # 5: out_of_scope
        w.writerow(["no period", "diesel", "1", "t", "", ""])  # 6: no_period
        # 7: src.1 is chem1's grid electricity, metered by chem1-E-main: its data come from readings
        w.writerow(["88.1234/src.1", "grid_electricity", "100", "kWh", "", "2025-03"])
        w.writerow(["forklift fleet", "diesel", "3", "t", "", "2025-03"])  # 8: duplicate of line 2
    page = browser.new_page()
    watch = Watch(page)
    browser.clear_cookies()
    _login(page, server["url"], "demo-enterprise")
    page.goto(f"{server['url']}/web/upload")
    template = page.request.get(f"{server['url']}{page.get_attribute('#activity-template', 'href')}")
    assert template.status == 200
    assert template.text().lstrip("\ufeff").splitlines()[0] == "source,activity,amount,unit,enterprise,period"
    page.set_input_files("#activity-file", str(path))
    page.click("#upload-activity")
    page.wait_for_selector('[data-key="upload.replaced"]', timeout=60_000)
    page.screenshot(path=str(tmp_path / "activity-result.png"))
    assert page.inner_text('[data-key="upload.rows"]').split()[0] == "7"
    assert page.inner_text('[data-key="upload.accepted"]').split()[0] == "1"
    assert page.inner_text('[data-key="upload.quarantined"]').split()[0] == "6"
    stored = _rows(page, "upload.stored_activity")
    assert stored == [["2", "88.1234/ent.1", "forklift fleet", "diesel", "2.0", "t", "2025-03"]]
    reasons = {r[0]: r[7] for r in _rows(page, "upload.quarantined_rows")}
    assert reasons == {
        "3": "malformed",
        "4": "invalid",
        "5": "out_of_scope",
        "6": "no_period",
        "7": "metered_source",
        "8": "duplicate",
    }
    runs = {tuple(r) for r in _rows(page, "upload.reaccounted")}
    assert runs == {("88.1234/ent.1", "2025"), ("park", "2025")}
    # the quarantined lines export to Excel like every other table
    href = page.get_attribute('section[data-title="upload.quarantined_rows"] a.export', "href")
    xlsx = page.request.get(f"{server['url']}{href}")
    assert xlsx.status == 200
    (tmp_path / "quarantined.xlsx").write_bytes(xlsx.body())
    sheet = load_workbook(tmp_path / "quarantined.xlsx").active
    assert sheet is not None and sheet.max_row == 1 + 6 and sheet.cell(1, 8).value == "原因"
    # 2 t of diesel: 2 × 42.652 GJ/t × 20.2 tC/TJ × 0.98 × 44/12 = 6.191819 tCO2, in the enterprise's and the park's run
    assert _park_total(db, "88.1234/ent.1")["total_tco2e"] - before == pytest.approx(2 * DIESEL_T, rel=1e-9)
    assert _park_total(db, "park")["total_tco2e"] - park_before == pytest.approx(2 * DIESEL_T, rel=1e-9)
    page.goto(f"{server['url']}/web/accounting")
    records = _rows(page, "table.records")
    assert ["2025-03", "forklift fleet", "diesel"] in [r[1:4] for r in records]
    assert not watch.errors and not watch.failed, (watch.errors, watch.failed)
    page.close()


def _tables_of(html: str) -> list[dict[str, Any]]:
    """Each table section of a page: its export link, header texts and number of body rows."""
    tables = []
    for part in html.split('<section class="table"')[1:]:
        part = part.split("</section>")[0]
        href = re.search(r'<a class="export" href="([^"]+)"', part)
        assert href is not None, part[:200]
        heads = [unescape(h.strip()) for h in re.findall(r"<th>(.*?)</th>", part)]
        body = part.split("<tbody>")[1] if "<tbody>" in part else ""
        tables.append({"href": unescape(href.group(1)), "heads": heads, "rows": body.count("<tr>")})
    return tables


def test_every_table_exports_to_excel(server: dict[str, Any], browser: Any, tmp_path: Path) -> None:
    """Each table of each menu page (park admin, enterprise user) exports with the page's rows and headers."""
    from openpyxl import load_workbook

    page = browser.new_page()
    exported = 0
    for user in ("demo-admin", "demo-enterprise"):
        browser.clear_cookies()
        _login(page, server["url"], user)
        keys = page.eval_on_selector_all("nav.menu a", "els => els.map(e => e.dataset.page)")
        for key in keys:
            html = page.request.get(f"{server['url']}/web/{key}", timeout=60_000).text()
            sections = _tables_of(html)
            for i, sec in enumerate(sections):
                assert sec["href"].startswith(f"/web/{key}/export.xlsx?table={i}"), (key, sec["href"])
                response = page.request.get(f"{server['url']}{sec['href']}", timeout=60_000)
                assert response.status == 200, (user, key, i, response.status)
                out = tmp_path / f"{user}-{key}-{i}.xlsx"
                out.write_bytes(response.body())
                sheet = load_workbook(out).active
                assert sheet is not None
                rows = list(sheet.iter_rows(values_only=True))
                assert sheet.max_row == 1 + sec["rows"], (user, key, i)
                if sec["heads"]:
                    assert [str(c) for c in rows[0]] == sec["heads"], (user, key, i)
                exported += 1
    assert exported > 60
    page.close()


def test_language_switch_changes_labels(server: dict[str, Any], browser: Any, tmp_path: Path) -> None:
    page = browser.new_page()
    browser.clear_cookies()
    _login(page, server["url"], "demo-admin")
    assert page.inner_text("[data-page=overview]") == "园区总览"
    page.click("a[data-lang=en]")
    page.wait_for_load_state("load")
    assert page.inner_text("[data-page=overview]") == "Park overview"
    assert page.inner_text("h1") == "Park overview"
    page.screenshot(path=str(tmp_path / "overview-en.png"))
    # the new pages' labels: the targets chart and its legend, the activity upload
    page.goto(f"{server['url']}/web/targets")
    assert page.inner_text('figure[data-title="chart.path"] figcaption') == (
        "Caps, planned path, actual and forecast [tCO2e/yr]"
    )
    page.wait_for_selector('figure[data-title="chart.path"] .legendtext', timeout=15_000)
    assert page.locator('figure[data-title="chart.path"] .legendtext:text-is("planned path")').count() == 1
    page.goto(f"{server['url']}/web/upload")
    assert page.inner_text("#activity h2") == "Activity data"
    page.click("a[data-lang=zh-CN]")
    page.wait_for_load_state("load")
    assert page.inner_text("#activity h2") == "活动数据"
    page.goto(f"{server['url']}/web/targets")
    assert page.inner_text('figure[data-title="chart.path"] figcaption') == "目标上限、规划路径、实际与预测 [tCO2e/年]"
    page.wait_for_selector('figure[data-title="chart.path"] .legendtext', timeout=15_000)
    assert page.locator('figure[data-title="chart.path"] .legendtext:text-is("规划路径")').count() == 1
    page.goto(f"{server['url']}/web/overview")
    assert page.inner_text("h1") == "园区总览"
    page.close()


def test_pdf_report_of_every_capability(server: dict[str, Any], browser: Any) -> None:
    """One PDF per report type, downloaded with the dashboard's login (issue 14 item 3)."""
    from carbonpark.web.downloads import REPORTS

    page = browser.new_page()
    browser.clear_cookies()
    _login(page, server["url"], "demo-admin")
    page.goto(f"{server['url']}/web/trading")
    assert page.locator("#report-pdf").get_attribute("href", timeout=5_000).startswith("/web/trading/report.pdf")
    assert set(REPORTS) == {"inventory", "evaluation", "retrofit", "trading", "energy", "footprint"}
    for key in REPORTS:
        response = page.request.get(f"{server['url']}/web/{key}/report.pdf", timeout=60_000)
        assert response.status == 200, (key, response.status, response.text()[:300])
        assert response.headers["content-type"] == "application/pdf", key
        assert response.body()[:5] == b"%PDF-", key
        assert (
            f'filename="{key if key not in ("trading",) else "compliance"}-' in response.headers["content-disposition"]
        )
    page.close()


def test_targets_ledger_and_regulator_scope(server: dict[str, Any], browser: Any) -> None:
    """Targets imported by the retrofit demo step show; the ledger verifies; the regulator sees no orders."""
    page = browser.new_page()
    watch = Watch(page)
    browser.clear_cookies()
    _login(page, server["url"], "demo-admin")
    # services/data/demo-targets.yaml: the park's caps and path
    page.goto(f"{server['url']}/web/targets")
    assert _charts_drawn(page, "targets") == 2  # the years and this year's months
    figure = page.eval_on_selector('figure[data-title="chart.path"] script.figure', "n => JSON.parse(n.textContent)")
    traces = {tr["name"]: tr for tr in figure["data"]}
    # one drawn trace per series: forecast scenarios, planned path, caps, actual, projected, peak target
    assert page.locator('figure[data-title="chart.path"] .plot g.trace').count() == len(figure["data"])
    assert traces["上限"]["x"] == [2025, 2026, 2027, 2030]
    assert traces["上限"]["y"] == [125000.0, 124000.0, 122000.0, 115000.0]
    assert traces["达峰目标"]["x"] == [2028] and traces["达峰目标"]["y"] == [130000.0]
    path = dict(zip(traces["规划路径"]["x"], traces["规划路径"]["y"], strict=True))
    # the measures abate from their year on: 470 + 240 t from 2026 (PV, drives), 2,650 t more from 2027 (green power)
    assert path[2026] == pytest.approx(path[2025] - 710, abs=0.1)
    assert path[2027] == pytest.approx(path[2025] - 3360, abs=0.1)
    assert path[2060] == path[2027]  # flat after the last measure
    assert sum(1 for name in traces if name.startswith("预测")) >= 1  # forecast scenarios (services.forecasting)
    years = _rows(page, "table.target_years")
    assert [int(r[0]) for r in years] == [2025, 2026, 2027, 2028, 2029, 2030]  # caps and the path to the last cap
    assert [r[1] for r in years] == ["125000.0", "124000.0", "122000.0", "—", "—", "115000.0"]
    months = _rows(page, "table.months")
    # the small demo holds January and February; March when an upload test of this module ran before
    assert [int(r[0]) for r in months] == list(range(1, len(months) + 1)) and len(months) >= 2
    checks = _rows(page, "table.target_checks")
    assert {r[0] for r in checks} >= {"peak_year", "cap_tco2e", "neutrality"} and all(r[5] in "✓✗—" for r in checks)
    page.goto(f"{server['url']}/web/overview")
    assert page.locator('section[data-title="table.target_checks"] tbody tr').count() > 0
    page.goto(f"{server['url']}/web/ledger")
    page.click("#verify-all")
    page.wait_for_url("**/web/ledger?verify=all")
    assert page.inner_text('[data-key="kpi.ledger_ok"]').strip() == "✓"
    assert page.inner_text('[data-key="kpi.findings"]').strip() == "0"
    # one record's proof bundle, checked offline: inclusion proof, root and head signature
    page.fill("input[name=record]", "trading_movement:1")  # an allowance movement of the trading demo step
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/web/ledger?record=*")
    assert page.inner_text('[data-key="kpi.proof_ok"]').strip() == "✓"
    checks = page.locator('section[data-title="table.proof_checks"] tbody tr')
    assert checks.count() == 3 and "✗" not in page.inner_text('section[data-title="table.proof_checks"]')
    assert not watch.errors and not watch.failed, (watch.errors, watch.failed)
    browser.clear_cookies()
    _login(page, server["url"], "demo-regulator")
    page.goto(f"{server['url']}/web/trading")
    assert page.locator('section[data-title="table.orders"]').count() == 0
    page.goto(f"{server['url']}/web/ledger")
    assert page.locator("#verify-all").count() == 0  # full verification is the park admin's
    page.close()
