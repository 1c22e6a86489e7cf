"""Run a market scenario in memory: accounts, orders in sequence, then compliance.

The scenario is the file contract of ``carbonpark trading simulate`` (issue 12 item 4)::

    market: park_internal          # or national_simulation (optional)
    year: 2024                     # compliance year and vintage of plain allowances (optional)
    ccer_cap_fraction: 0.05        # optional, default 5%
    market_price: 80               # reference price for the shortfall fine (optional)
    accounts:
      - {name: A, allowances: 100, ccer: 0, cash: 0}     # allowances may be {2023: 40, 2024: 60}
    orders:
      - {id: s1, account: A, side: sell, instrument: allowance, quantity: 40, price: 50}
      - {id: m1, account: B, side: buy, instrument: ccer, quantity: 5, type: market}
      - {cancel: s1}
    compliance:
      A: {verified_tco2e: 60, surrender_allowances: 60, surrender_ccer: 0}

An order that fails validation is listed under ``rejected`` with the reason and the run
goes on. Balances are taken after trading and before surrender (holdings including what
rests in the book). A malformed account or compliance entry stops the run with a
:class:`~carbonpark.errors.ValidationError` naming it.

References
----------
Guide §7.3 (碳交易 and 配额清缴履约).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml

from carbonpark.errors import CarbonparkError, ValidationError
from carbonpark.trading.assets import ALLOWANCE, CASH, CCER, Asset, parse_asset, to_cash, to_price, to_tonnes
from carbonpark.trading.compliance import NATIONAL_ETS_2024, ComplianceProgramme, Penalty, surrender
from carbonpark.trading.market import LIMIT, MARKET, PARK_INTERNAL, Market
from carbonpark.trading.registry import Registry

__all__ = ["load_scenario", "run_scenario"]


def load_scenario(text: str, source: str = "scenario") -> dict[str, Any]:
    """Parse scenario YAML text into a mapping (errors name the line)."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationError(source, "valid YAML", str(exc).replace("\n", " ")) from None
    if not isinstance(doc, dict):
        raise ValidationError(source, "a mapping with accounts, orders and compliance", type(doc).__name__)
    return doc


def _year(doc: Mapping[str, Any]) -> int | None:
    year = doc.get("year")
    if year is None:
        return None
    if isinstance(year, bool) or not isinstance(year, int) or not 1900 < year < 2200:
        raise ValidationError("year", "a year such as 2024", year)
    return year


def _instrument(text: object, year: int | None) -> Asset:
    asset = parse_asset(str(text))
    if asset.kind == ALLOWANCE and asset.vintage is None and year is not None:
        return Asset(ALLOWANCE, year)
    return asset


def _vintage(key: object, field: str) -> int:
    if isinstance(key, int) and not isinstance(key, bool):
        return key
    if isinstance(key, str) and key.strip().isdigit():
        return int(key)
    raise ValidationError(field, "vintage years as keys, e.g. {2023: 40, 2024: 60}", key)


def _open_accounts(registry: Registry, accounts: object, year: int | None) -> list[str]:
    if not isinstance(accounts, list):
        raise ValidationError("accounts", "a list of {name, allowances, ccer, cash}", accounts)
    names: list[str] = []
    for i, entry in enumerate(accounts):
        where = f"accounts[{i}]"
        if not isinstance(entry, Mapping) or not entry.get("name"):
            raise ValidationError(where, "a mapping with a name", entry)
        name = str(entry["name"])
        if name in names:
            raise ValidationError(f"{where}.name", "a name used once", name)
        if name.startswith("@"):
            raise ValidationError(f"{where}.name", "a name not starting with @", name)
        names.append(name)
        allowances = entry.get("allowances", 0)
        by_vintage = (
            {_vintage(k, f"{where}.allowances"): v for k, v in allowances.items()}
            if isinstance(allowances, Mapping)
            else {year: allowances}
        )
        for vintage, amount in sorted(by_vintage.items(), key=lambda kv: (kv[0] is not None, kv[0] or 0)):
            tonnes = to_tonnes(amount, f"{where}.allowances")
            if tonnes:
                registry.issue(name, Asset(ALLOWANCE, vintage), tonnes, reason="opening_balance")
        ccer = to_tonnes(entry.get("ccer", 0), f"{where}.ccer")
        if ccer:
            registry.issue(name, Asset(CCER), ccer, reason="opening_balance")
        cash = to_cash(entry.get("cash", 0), f"{where}.cash")
        if cash:
            registry.issue(name, Asset(CASH), cash, reason="opening_balance")
    return names


def _run_orders(market: Market, orders: object, names: list[str], year: int | None) -> tuple[list, list]:
    if orders is None:
        orders = []
    if not isinstance(orders, list):
        raise ValidationError("orders", "a list of orders", orders)
    rejected: list[dict[str, Any]] = []
    cancelled: list[dict[str, Any]] = []
    for i, entry in enumerate(orders):
        if not isinstance(entry, Mapping):
            rejected.append({"id": f"#{i + 1}", "reason": f"orders[{i}]: expected a mapping, got {entry!r}"})
            continue
        if "cancel" in entry:
            target = str(entry["cancel"])
            try:
                order = market.cancel(target)
                cancelled.append({"id": target, "quantity": order.remaining, "reason": "cancelled by its owner"})
            except CarbonparkError as exc:
                rejected.append({"id": str(entry.get("id", f"cancel {target}")), "reason": str(exc)})
            continue
        order_id = str(entry.get("id") or f"#{i + 1}")
        try:
            missing = [k for k in ("id", "account", "side", "instrument", "quantity") if k not in entry]
            if missing:
                raise ValidationError(f"order {order_id}", f"the fields {', '.join(missing)}", dict(entry))
            account = str(entry["account"])
            if account not in names:
                raise ValidationError(f"order {order_id}.account", f"one of {', '.join(names)}", account)
            order_type = str(entry.get("type", LIMIT))
            if order_type == MARKET and "price" in entry and entry["price"] is not None:
                raise ValidationError(f"order {order_id}.price", "no price for a market order", entry["price"])
            if order_type == LIMIT and entry.get("price") is None:
                raise ValidationError(f"order {order_id}.price", "a limit price", None)
            result = market.submit(
                order_id,
                account,
                str(entry["side"]),
                _instrument(entry["instrument"], year),
                entry["quantity"],
                entry.get("price"),
                order_type,
            )
        except CarbonparkError as exc:
            rejected.append({"id": order_id, "reason": str(exc)})
            continue
        if result.cancelled_quantity:
            cancelled.append({"id": order_id, "quantity": result.cancelled_quantity, "reason": result.reason})
    return rejected, cancelled


def _balances(registry: Registry, names: list[str]) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = {}
    for name in names:
        holdings = registry.holdings(name)
        result[name] = {
            "allowance": sum(int(v) for a, v in holdings.items() if a.kind == ALLOWANCE),
            "ccer": int(holdings.get(Asset(CCER), 0)),
            "cash": holdings.get(Asset(CASH), Decimal("0.00")),
        }
        vintages = {str(a.vintage): int(v) for a, v in holdings.items() if a.kind == ALLOWANCE and a.vintage}
        if vintages:
            result[name]["allowance_by_vintage"] = vintages
    return result


def _penalty_dict(penalty: Penalty | None) -> dict[str, Any] | None:
    if penalty is None:
        return None
    return {
        "fine_min_cny": penalty.fine_min_cny,
        "fine_max_cny": penalty.fine_max_cny,
        "deduction_next_year_t": penalty.deduction_next_year_t,
        "basis": penalty.basis,
    }


def _int_field(entry: Mapping[str, Any], key: str, where: str) -> int:
    return to_tonnes(entry.get(key, 0), f"{where}.{key}")


def _run_compliance(
    registry: Registry,
    compliance: object,
    names: list[str],
    year: int | None,
    programme: ComplianceProgramme,
    market_price: Decimal | None,
) -> dict[str, dict[str, Any]]:
    if compliance is None:
        return {}
    if not isinstance(compliance, Mapping):
        raise ValidationError("compliance", "a mapping of account to {verified_tco2e, surrender_*}", compliance)
    result: dict[str, dict[str, Any]] = {}
    for account, entry in compliance.items():
        where = f"compliance.{account}"
        if not isinstance(entry, Mapping) or "verified_tco2e" not in entry:
            raise ValidationError(where, "a mapping with verified_tco2e", entry)
        verified = _int_field(entry, "verified_tco2e", where)
        allowances = _int_field(entry, "surrender_allowances", where)
        ccer = _int_field(entry, "surrender_ccer", where)
        if str(account) not in names:
            result[str(account)] = {"status": "rejected", "reason": f"unknown account {account!r}"}
            continue
        outcome = surrender(registry, str(account), verified, allowances, ccer, year, programme, market_price)
        result[str(account)] = {
            "status": outcome.status,
            "reason": outcome.reason,
            "verified_tco2e": outcome.verified_tco2e,
            "ccer_cap_t": outcome.ccer_cap_t,
            "surrendered_allowances": outcome.surrender_allowances if outcome.status != "rejected" else 0,
            "surrendered_ccer": outcome.surrender_ccer if outcome.status != "rejected" else 0,
            "shortfall_tco2e": outcome.shortfall_t,
            "penalty": _penalty_dict(outcome.penalty),
        }
    return result


def _reference_price(market: Market, given: Decimal | None) -> dict[str, Any] | None:
    """Price the shortfall fine is based on: the given one, else the run's allowance VWAP."""
    if given is not None:
        return {"price": given, "source": "market_price in the scenario"}
    trades = [t for t in market.trades if t.asset.kind == ALLOWANCE]
    volume = sum(t.quantity for t in trades)
    if not volume:
        return None
    vwap = (sum((t.value for t in trades), Decimal(0)) / volume).quantize(Decimal("0.01"))
    return {"price": vwap, "source": f"volume-weighted price of the {len(trades)} allowance trades in this run"}


def _fraction(value: object) -> Decimal:
    try:
        dec = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationError("ccer_cap_fraction", "a share between 0 and 1", value) from None
    if not dec.is_finite() or not 0 <= dec <= 1:
        raise ValidationError("ccer_cap_fraction", "a share between 0 and 1", value)
    return dec


def run_scenario(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Run a scenario (see the module docstring) and return the result document.

    Returns
    -------
    dict
        ``market``, ``trades`` (buyer, seller, instrument, quantity, price, …),
        ``rejected`` (id, reason), ``cancelled`` (id, quantity, reason), ``balances``
        (per account: allowance, ccer, cash, after trading, before surrender),
        ``compliance`` (per account: status compliant|shortfall|rejected, reason, …),
        ``market_data`` (last price and depth per instrument), ``ledger_entries``
        (the attestation payloads of every movement, in order).
    """
    year = _year(doc)
    fraction = doc.get("ccer_cap_fraction")
    programme = NATIONAL_ETS_2024
    if fraction is not None:
        programme = ComplianceProgramme(
            f"{programme.name}-custom-ccer-cap",
            ccer_cap_fraction=_fraction(fraction),
            fine_price_multiple=programme.fine_price_multiple,
            source=programme.source,
        )
    market_price = to_price(doc["market_price"], "market_price") if doc.get("market_price") is not None else None
    registry = Registry()
    names = _open_accounts(registry, doc.get("accounts"), year)
    market = Market(registry, label=str(doc.get("market", PARK_INTERNAL)))
    rejected, cancelled = _run_orders(market, doc.get("orders"), names, year)
    balances = _balances(registry, names)
    market_data = {
        asset.code: {"last_price": market.last_price(asset), "depth": book.depth()}
        for asset, book in sorted(market.books.items())
    }
    reference = _reference_price(market, market_price)
    compliance = _run_compliance(
        registry, doc.get("compliance"), names, year, programme, reference["price"] if reference else None
    )
    registry.check_integrity()
    return {
        "market": market.label,
        "trades": [t.as_dict() for t in market.trades],
        "rejected": rejected,
        "cancelled": cancelled,
        "balances": balances,
        "compliance": compliance,
        "market_data": market_data,
        "reference_price": reference,
        "ledger_entries": registry.entries,
    }
