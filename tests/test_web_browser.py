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
    from carbonpark.store import session

    tmp = tmp_path_factory.mktemp("web")
    db = str(tmp / "park.db")
    build_demo(db, "small", seed=7, year=2025, out_dir=tmp)
    demo_step(db, 2025, tmp)
    with session(db) as s:
        create_demo_users(s, PASSWORD, 2025, SecuritySettings())
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
CHART_PAGES = {"overview", "forecast", "dispatch", "evaluation", "ratings", "monitoring"}


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
    from carbonpark.times import period_bounds_ms

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
    assert page.inner_text("[data-key=quarantined]").strip() == "1"
    assert "5" in page.inner_text("#quarantined")  # line 5 of the file
    assert page.locator("#reaccounted li").count() >= 1
    with session(db) as s:
        who = Principal("admin", "park_admin")
        start, end = period_bounds_ms("2025-03", "Asia/Shanghai")
        meter = resolve(s, Meter, "chem1-E-main")
        got = list_readings(s, who, str(meter.id), start_ms=start, end_ms=end, limit=10).to_dict()
    values = [r["value"] for r in got["items"]]
    assert values == [1000.0, 1000.0, 1000.0]
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
