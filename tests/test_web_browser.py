"""Browser tests of the dashboard (issue 14 item 4): Playwright for Python driving Debian's Chromium.

A small demo park (``build_demo(db, "small")`` + the accounting demo step + the demo users) is
served by uvicorn on a free port in a thread; Chromium runs headless with the flags of DESIGN.md
(``executable_path="/usr/bin/chromium"``, never a downloaded browser). Screenshots go to the
pytest tmp dir (artefacts).
"""

from __future__ import annotations

import csv
import os
import socket
import threading
import time
from collections.abc import Iterator
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


#: Pages that must draw at least one chart with the demo data.
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
}


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
            if user == "demo-admin" and key in CHART_PAGES:
                page.wait_for_selector(".plot .main-svg", timeout=15_000)
                drawn = page.eval_on_selector_all(
                    ".plot svg.main-svg g.trace, .plot svg.main-svg path", "els => els.length"
                )
                assert drawn > 0, f"chart of {key} is empty"
            if user == "demo-admin" and key == "footprint":
                # product 1 (chem1-chem): stages raw_materials and manufacturing_energy, and its two inputs
                # (methanol, caustic soda) into raw_materials: 4 links (demo BOM, services/demo.py)
                links = page.eval_on_selector_all(".plot g.sankey path.sankey-link", "els => els.length")
                assert links == 4, links
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
    page.wait_for_selector("#upload-counts", timeout=30_000)
    page.screenshot(path=str(tmp_path / "upload-result.png"))
    assert page.inner_text("[data-key=accepted]").strip() == "3"
    assert page.inner_text("[data-key=quarantined]").strip() == "2"
    rows = page.eval_on_selector_all(
        "#quarantined tbody tr", "trs => trs.map(tr => Array.from(tr.cells).map(td => td.innerText.trim()))"
    )
    by_line = {r[0]: r for r in rows}
    assert set(by_line) == {"5", "6"}  # lines 5 and 6 of the file (line 1 is the header)
    assert by_line["6"][1] == "metal1-E-main" and by_line["6"][4] == "out_of_scope"
    assert page.locator("#reaccounted li").count() >= 1
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
    page.click("a[data-lang=zh-CN]")
    page.wait_for_load_state("load")
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
    assert page.locator('section[data-title="table.targets"] tbody tr').count() > 0
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
