"""``carbonpark trading simulate``: the file contract of issue 12 item 4, checked by hand."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from carbonpark.cli.common import new_app
from carbonpark.cli.trading_cmds import register

CONTRACT = """\
accounts:
  - {name: A, allowances: 100, ccer: 0, cash: 0}
  - {name: B, allowances: 0, ccer: 0, cash: 10000}
orders:
  - {id: s1, account: A, side: sell, instrument: allowance, quantity: 40, price: 50}
  - {id: b1, account: B, side: buy, instrument: allowance, quantity: 40, price: 55}
compliance:
  A: {verified_tco2e: 60, surrender_allowances: 60, surrender_ccer: 0}
"""


def _app() -> Any:
    app = new_app("t")
    register(app)
    return app


def _run(tmp_path: Path, text: str, *extra: str) -> Any:
    path = tmp_path / "market.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return CliRunner().invoke(_app(), ["trading", "simulate", str(path), *extra])


def test_contract_example(tmp_path: Path) -> None:
    result = _run(tmp_path, CONTRACT, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [(t["buyer"], t["seller"], t["instrument"], t["quantity"], t["price"]) for t in doc["trades"]] == [
        ("B", "A", "allowance", 40, 50)
    ]
    assert doc["rejected"] == []
    # after trading, before surrender: A 100 − 40 = 60 t and 2,000 CNY; B 40 t and 8,000 CNY
    assert doc["balances"] == {
        "A": {"allowance": 60, "ccer": 0, "cash": 2000},
        "B": {"allowance": 40, "ccer": 0, "cash": 8000},
    }
    assert doc["compliance"]["A"]["status"] == "compliant"
    assert all(e["kind"] == "allowance_movement" for e in doc["ledger_entries"])


SEQUENCE = """\
market: national_simulation
year: 2024
market_price: 80
accounts:
  - {name: A, allowances: 100, ccer: 10, cash: 0}
  - {name: B, allowances: 10, ccer: 0, cash: 5000}
  - {name: C, allowances: 50, ccer: 0, cash: 1000}
orders:
  - {id: s1, account: A, side: sell, instrument: allowance, quantity: 30, price: 52}
  - {id: s2, account: C, side: sell, instrument: allowance, quantity: 20, price: 51}
  - {id: b1, account: B, side: buy, instrument: allowance, quantity: 25, price: 52}
  - {id: b2, account: B, side: buy, instrument: allowance, quantity: 10, type: market}
  - {id: s3, account: A, side: sell, instrument: ccer, quantity: 50, price: 30}
  - {id: s4, account: A, side: sell, instrument: allowance, quantity: 5, price: 60}
  - {cancel: s1}
  - {id: b3, account: C, side: buy, instrument: allowance, quantity: 5, price: 61}
  - {id: b4, account: A, side: buy, instrument: allowance, quantity: 1, price: 70}
  - {id: b5, account: B, side: buy, quantity: 1, price: 70}
compliance:
  A: {verified_tco2e: 80, surrender_allowances: 76, surrender_ccer: 4}
  B: {verified_tco2e: 60, surrender_allowances: 45, surrender_ccer: 0}
  C: {verified_tco2e: 30, surrender_allowances: 30, surrender_ccer: 0}
  D: {verified_tco2e: 1, surrender_allowances: 1, surrender_ccer: 0}
"""


def test_matching_sequence_rejections_and_compliance(tmp_path: Path) -> None:
    result = _run(tmp_path, SEQUENCE, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["market"] == "national_simulation"
    # b1: 20 @ 51 from C (better price), 5 @ 52 from A; refund of 20 × (52 − 51) = 20
    # b2 (market, 10): 10 @ 52 from A (s1 now 15 left)
    # s1 cancelled with 15 left; b3: 5 @ 60 from A's s4 (resting price, not 61)
    # b4: the ask side is empty (s4 filled) → A's bid rests with 70 CNY reserved
    # s3: A holds 10 CCER, not 50 → rejected; b5: no instrument → rejected
    trades = [(t["buyer"], t["seller"], t["quantity"], t["price"]) for t in doc["trades"]]
    assert trades == [("B", "C", 20, 51), ("B", "A", 5, 52), ("B", "A", 10, 52), ("C", "A", 5, 60)]
    assert [r["id"] for r in doc["rejected"]] == ["s3", "b5"]
    assert "A to hold 50 ccer to sell" in doc["rejected"][0]["reason"]
    assert "instrument" in doc["rejected"][1]["reason"]
    assert doc["cancelled"] == [{"id": "s1", "quantity": 15, "reason": "cancelled by its owner"}]
    # A: 100 − 5 − 10 − 5 = 80 t; cash 260 + 520 + 300 = 1,080, of which 70 reserved for b4 (still owned)
    # B: 10 + 35 = 45 t; cash 5,000 − 1,020 − 260 − 520 = 3,200
    # C: 50 − 20 + 5 = 35 t; cash 1,000 + 1,020 − 300 = 1,720
    assert doc["balances"]["A"] == {"allowance": 80, "ccer": 10, "cash": 1080, "allowance_by_vintage": {"2024": 80}}
    assert doc["balances"]["B"]["allowance"] == 45 and doc["balances"]["B"]["cash"] == 3200
    assert doc["balances"]["C"]["allowance"] == 35 and doc["balances"]["C"]["cash"] == 1720
    c = doc["compliance"]
    # A: cap floor(0.05 × 80) = 4 → exactly the cap passes
    assert (c["A"]["status"], c["A"]["ccer_cap_t"]) == ("compliant", 4)
    # B: 45 of 60 → 15 short; fine 5–10 × 80 × 15 = 6,000–12,000 CNY
    assert (c["B"]["status"], c["B"]["shortfall_tco2e"]) == ("shortfall", 15)
    assert (c["B"]["penalty"]["fine_min_cny"], c["B"]["penalty"]["fine_max_cny"]) == (6000, 12000)
    assert c["C"]["status"] == "compliant"
    assert c["D"] == {"status": "rejected", "reason": "unknown account 'D'"}


def test_ccer_above_cap_is_rejected(tmp_path: Path) -> None:
    text = """\
    accounts:
      - {name: A, allowances: 100, ccer: 10, cash: 0}
    orders: []
    compliance:
      A: {verified_tco2e: 99, surrender_allowances: 95, surrender_ccer: 5}
    """
    doc = json.loads(_run(tmp_path, text, "--json").stdout)
    # floor(0.05 × 99) = floor(4.95) = 4 < 5
    assert doc["compliance"]["A"]["status"] == "rejected"
    assert "exceeds the cap floor(0.05 × 99) = 4 t" in doc["compliance"]["A"]["reason"]


def test_custom_ccer_cap_fraction(tmp_path: Path) -> None:
    text = """\
    ccer_cap_fraction: 0.1
    accounts:
      - {name: A, allowances: 100, ccer: 10, cash: 0}
    compliance:
      A: {verified_tco2e: 99, surrender_allowances: 90, surrender_ccer: 9}
    """
    doc = json.loads(_run(tmp_path, text, "--json").stdout)
    assert doc["compliance"]["A"]["status"] == "compliant"  # floor(9.9) = 9
    assert doc["compliance"]["A"]["ccer_cap_t"] == 9


def test_table_output(tmp_path: Path) -> None:
    result = _run(tmp_path, CONTRACT)
    assert result.exit_code == 0
    assert "Trades" in result.stdout and "compliant" in result.stdout and "quantity [t]" in result.stdout


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("accounts: [ {name: A\n", "valid YAML"),
        ("accounts:\n  - {name: A, allowances: 1.5}\n", "accounts[0].allowances"),
        ("accounts:\n  - {name: A}\ncompliance:\n  A: {surrender_ccer: 1}\n", "compliance.A"),
        ("- just a list\n", "a mapping with accounts"),
    ],
)
def test_bad_input_exits_1_with_message_on_stderr(tmp_path: Path, text: str, message: str) -> None:
    result = _run(tmp_path, text, "--json")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert message in result.stderr


def test_missing_file_exits_1(tmp_path: Path) -> None:
    result = CliRunner().invoke(_app(), ["trading", "simulate", str(tmp_path / "nope.yaml"), "--json"])
    assert result.exit_code == 1 and result.stdout == ""


def test_installed_command(tmp_path: Path) -> None:
    path = tmp_path / "market.yaml"
    path.write_text(CONTRACT, encoding="utf-8")
    exe = Path(sys.executable).with_name("carbonpark")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "carbonpark.cli.main"]
    p = subprocess.run([*command, "trading", "simulate", str(path), "--json"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert [(t["buyer"], t["seller"], t["quantity"], t["price"]) for t in doc["trades"]] == [("B", "A", 40, 50)]


ALLOCATION = """\
facilities:
  - {enterprise: E1, id: u1, method: power, supply_benchmark: 0.877, power_supplied_mwh: 2000000,
     heat_benchmark: 0.126, heat_supplied_gj: 1000000, corrections: [0.956, 1.05]}
  - {enterprise: E2, id: l1, method: benchmark, benchmark: 0.9, output: 12345, corrections: [1.02, 0.97]}
  - {enterprise: E2, id: k1, method: history, base_year_emissions: [100000, 110000, 120000], control_factor: 0.98}
"""


def test_allocate(tmp_path: Path) -> None:
    path = tmp_path / "alloc.yaml"
    path.write_text(ALLOCATION, encoding="utf-8")
    result = CliRunner().invoke(_app(), ["trading", "allocate", str(path), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    # u1: 0.877 × 2,000,000 × 0.956 × 1.05 + 0.126 × 1,000,000 = 1,886,665.2 → 1,886,665
    # l1: 0.9 × 12,345 × 1.02 × 0.97 = 10,992.7287 → 10,993; k1: 110,000 × 0.98 = 107,800
    assert [f["allowances_t"] for f in doc["facilities"]] == [1_886_665, 10_993, 107_800]
    assert doc["enterprises"] == {"E1": 1_886_665, "E2": 118_793} and doc["total_t"] == 2_005_458
    floor = tmp_path / "floor.yaml"
    floor.write_text("rounding: floor\n" + ALLOCATION, encoding="utf-8")
    doc = json.loads(CliRunner().invoke(_app(), ["trading", "allocate", str(floor), "--json"]).stdout)
    assert [f["allowances_t"] for f in doc["facilities"]] == [1_886_665, 10_992, 107_800]
    bad = tmp_path / "bad.yaml"
    bad.write_text("facilities:\n  - {enterprise: E1, method: power, power_supplied_mwh: 1}\n", encoding="utf-8")
    result = CliRunner().invoke(_app(), ["trading", "allocate", str(bad), "--json"])
    assert result.exit_code == 1 and "facilities[0].supply_benchmark" in result.stderr


ENERGY = """\
year: 2025
elapsed_fraction: 0.5
park: {total_cap_tce: 30000, intensity_cap_tce_per_10k_cny: 0.5, public_energy_tce: 500}
enterprises:
  - {name: E1, energy_tce: 6000, value_added_10k_cny: 15000, total_cap_tce: 11000, intensity_cap_tce_per_10k_cny: 0.45}
  - {name: E2, energy_tce: 2000, value_added_10k_cny: 8000, excluded_tce: 400}
quotas:
  - {enterprise: E1, product: clinker, limit_kgce_per_unit: 112, energy_kgce: 10500000, output: 100000}
"""


def test_energy(tmp_path: Path) -> None:
    path = tmp_path / "energy.yaml"
    path.write_text(ENERGY, encoding="utf-8")
    result = CliRunner().invoke(_app(), ["trading", "energy", str(path), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    e1 = doc["enterprises"]["E1"]
    # E1: 6,000 / 0.5 = 12,000 > 11,000 → at risk; 6,000 / 15,000 = 0.4 ≤ 0.45
    assert (e1["projected_energy_tce"], e1["total_status"], e1["intensity_status"]) == (12000, "at_risk", "within")
    # park: 6,000 + 2,000 + 500 − 400 = 8,100 tce; projection 16,200 ≤ 30,000
    assert (doc["park"]["energy_tce"], doc["park"]["total_status"]) == (8100, "within")
    # key units on the gross projection: E1 12,000 ≥ 10,000; E2 2,000 / 0.5 = 4,000 is not
    assert doc["key_energy_units"] == [{"name": "E1", "annual_tce": 12000}]
    assert doc["quota_checks"][0]["status"] == "within"  # 105 kgce/t ≤ 112
    table = CliRunner().invoke(_app(), ["trading", "energy", str(path)])
    assert table.exit_code == 0 and "at_risk" in table.stdout


def test_calendar() -> None:
    result = CliRunner().invoke(_app(), ["trading", "calendar", "2024", "--json"])
    doc = json.loads(result.stdout)
    assert doc["deadlines"] == {
        "report_due": "2025-03-31",
        "verification_due": "2025-06-30",
        "surrender_due": "2025-12-31",
    }
    bad = CliRunner().invoke(_app(), ["trading", "calendar", "2024", "--rules", "eu-ets"])
    assert bad.exit_code == 1 and "national-ets-2024" in bad.stderr


def test_vintages_in_a_scenario(tmp_path: Path) -> None:
    text = """\
    year: 2024
    accounts:
      - {name: A, allowances: {2023: 30, 2024: 50, 2025: 100}, cash: 0}
      - {name: B, cash: 5000}
    orders:
      - {id: s1, account: A, side: sell, instrument: "allowance:2025", quantity: 10, price: 40}
      - {id: b1, account: B, side: buy, instrument: allowance, quantity: 10, price: 60}
    compliance:
      A: {verified_tco2e: 80, surrender_allowances: 80, surrender_ccer: 0}
    """
    doc = json.loads(_run(tmp_path, text, "--json").stdout)
    # b1 asks for 2024 allowances ("allowance" = the scenario year): s1's 2025 tonnes are another book
    assert doc["trades"] == []
    assert doc["balances"]["A"]["allowance_by_vintage"] == {"2023": 30, "2024": 50, "2025": 100}
    # 30 of 2023 + 50 of 2024 cover 80; the 2025 tonnes (90 available, 10 reserved) are not eligible
    assert doc["compliance"]["A"]["status"] == "compliant"
    kinds = {(e["reason"], e["asset"]) for e in doc["ledger_entries"] if e["reason"] == "surrender"}
    assert kinds == {("surrender", "allowance:2023"), ("surrender", "allowance:2024")}


def test_bad_vintage_key(tmp_path: Path) -> None:
    result = _run(tmp_path, "accounts:\n  - {name: A, allowances: {old: 5}}\n", "--json")
    assert result.exit_code == 1 and "accounts[0].allowances" in result.stderr
