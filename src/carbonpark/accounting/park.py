"""Park comprehensive accounting, formulas (3)-(7), and the energy-based formula (8).

Formula (3): ``E_park = E_park_energy + E_enterprises + E_public + E_new_infra + E_transport
− E_fixed_in_products − E_sinks − E_CCUS``, with (4) enterprises = fuel combustion +
purchased electricity and heat + upstream materials + process + product use; (5) public =
public equipment + waste treatment; (6) new infrastructure = base stations + servers +
cooling; (7) transport = in-park + material transport + product transport + commuting.

A term without data is a *gap* (``None``), never zero. Energy passed from one party in the
park to another (electricity bought by the park and resold, CHP heat, PV power) is counted
once: the reconciliation removes what the buyer counted minus what the seller deducted.

References
----------
The guide §4.3 formulas (3)-(7) (as cleaned up in SPEC §3) and §4.5 formula (8);
GB/T 32150-2015 (exported heat and power deducted at the sender).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from carbonpark.accounting.methods import CO2_PER_C
from carbonpark.accounting.model import Inventory
from carbonpark.accounting.quantities import amount_in, parse_rate, rate_in
from carbonpark.errors import ValidationError
from carbonpark.factors import DEFAULT_FACTOR_SET, FactorLibrary, FactorRow, default_library

__all__ = [
    "DEDUCTED_TERMS",
    "ETS_BOUNDARY",
    "FORMULA8_FUELS",
    "PARK_TERMS",
    "EnergyTransfer",
    "Formula8Result",
    "Formula8Row",
    "ParkAccount",
    "ParkComponent",
    "ReconciliationLine",
    "formula8",
    "park_account",
    "park_components",
]

#: Terms of formula (3) and their parts (formulas (4)-(7)).
PARK_TERMS: dict[str, tuple[str, ...]] = {
    "park_energy": ("purchased_electricity_and_heat",),
    "enterprises": ("fuel_combustion", "purchased_electricity_and_heat", "materials", "process", "product_use"),
    "public": ("public_equipment", "waste_treatment"),
    "new_infra": ("base_stations", "servers", "cooling"),
    "transport": ("in_park", "material_transport", "product_transport", "commuting"),
    "fixed_in_products": ("fixed_in_products",),
    "sinks": ("sinks",),
    "ccus": ("ccus",),
}
#: Terms subtracted in formula (3) (given as positive tonnes removed or fixed).
DEDUCTED_TERMS: tuple[str, ...] = ("fixed_in_products", "sinks", "ccus")
#: (term, part) pairs inside the national-ETS reporting boundary (direct + purchased energy).
ETS_BOUNDARY: frozenset[tuple[str, str]] = frozenset(
    {
        ("enterprises", "fuel_combustion"),
        ("enterprises", "process"),
        ("enterprises", "purchased_electricity_and_heat"),
    }
)
#: The eight fuels of formula (8), mapped to activity ids.
FORMULA8_FUELS: dict[str, str] = {
    "coal": "raw_coal",
    "coke": "coke",
    "crude_oil": "crude_oil",
    "gasoline": "gasoline",
    "kerosene": "kerosene",
    "diesel": "diesel",
    "fuel_oil": "fuel_oil",
    "natural_gas": "natural_gas",
}


@dataclass(frozen=True, slots=True)
class ParkComponent:
    """One contribution to a part of formula (3) [tCO2e]; ``tco2e=None`` records a known gap."""

    term: str
    part: str
    owner: str
    tco2e: float | None
    note: str = ""


@dataclass(frozen=True, slots=True)
class EnergyTransfer:
    """Energy (or CO2) passed between two parties inside the park.

    Attributes
    ----------
    buyer_tco2e
        What the buyer's account counts for it (its scope 2) [tCO2e].
    seller_deducted_tco2e
        What the seller's account already deducted as an export (0 if it did not) [tCO2e].
    """

    seller: str
    buyer: str
    carrier: str
    amount: float
    unit: str
    buyer_tco2e: float
    seller_deducted_tco2e: float = 0.0


@dataclass(frozen=True, slots=True)
class ReconciliationLine:
    """One line of the reconciliation table: what is added, why, and the running total [tCO2e]."""

    label: str
    tco2e: float | None
    running_total_tco2e: float
    reason: str


@dataclass(frozen=True)
class ParkAccount:
    """Result of formula (3) with its parts, gaps, transfers and reconciliation."""

    parts: dict[str, dict[str, float | None]]
    terms: dict[str, float | None]
    gaps: tuple[str, ...]
    transfer_adjustment_tco2e: float
    total_tco2e: float
    ets_boundary_tco2e: float
    complete: bool
    reconciliation: tuple[ReconciliationLine, ...]


def _check(component: ParkComponent) -> None:
    if component.term not in PARK_TERMS:
        raise ValidationError("park component term", f"one of {', '.join(PARK_TERMS)}", component.term)
    if component.part not in PARK_TERMS[component.term]:
        raise ValidationError(
            f"park component {component.term}", f"one of {', '.join(PARK_TERMS[component.term])}", component.part
        )
    if component.term in DEDUCTED_TERMS and component.tco2e is not None and component.tco2e < 0:
        raise ValidationError(f"park component {component.term}", "a positive amount removed or fixed", component.tco2e)


def park_account(
    components: Sequence[ParkComponent],
    transfers: Sequence[EnergyTransfer] = (),
    *,
    ets_owners: Collection[str] | None = None,
) -> ParkAccount:
    """Formula (3) over per-component results, with a reconciliation that counts each tonne once.

    Parameters
    ----------
    components
        Results mapped to the terms and parts of formulas (3)-(7) [tCO2e]; deducted terms
        (fixed in products, sinks, CCUS) are given as positive amounts.
    transfers
        Energy passed between parties inside the park; each removes
        ``buyer_tco2e − seller_deducted_tco2e`` from the total (the tonne is already counted
        where the energy was made or bought from outside).
    ets_owners
        Owners inside the ETS boundary (key emitters); None means every enterprise.

    Returns
    -------
    ParkAccount
        ``total_tco2e`` is the formula-(3) total over the parts with data; ``gaps`` names
        the parts without data; ``complete`` is False when any part is a gap.

    References
    ----------
    The guide §4.3 formulas (3)-(7); SPEC §3 (never count a tonne twice).
    """
    sums: dict[str, dict[str, float | None]] = {term: dict.fromkeys(parts) for term, parts in PARK_TERMS.items()}
    for component in components:
        _check(component)
        if component.tco2e is None:
            continue
        current = sums[component.term][component.part]
        sums[component.term][component.part] = (current or 0.0) + component.tco2e
    gaps = tuple(f"{term}.{part}" for term, parts in sums.items() for part, value in parts.items() if value is None)
    terms: dict[str, float | None] = {}
    for term, parts in sums.items():
        present = [v for v in parts.values() if v is not None]
        terms[term] = sum(present) if present else None
    lines: list[ReconciliationLine] = []
    running = 0.0
    for term, value in terms.items():
        sign = -1.0 if term in DEDUCTED_TERMS else 1.0
        if value is not None:
            running += sign * value
        lines.append(
            ReconciliationLine(
                f"{'−' if sign < 0 else '+'} {term}",
                None if value is None else sign * value,
                running,
                "gap: no data" if value is None else f"formula (3) term, parts {dict(sums[term])}",
            )
        )
    adjustment = 0.0
    ets_adjustment = 0.0
    for transfer in transfers:
        twice = transfer.buyer_tco2e - transfer.seller_deducted_tco2e
        adjustment -= twice
        running -= twice
        inside = ets_owners is None or (transfer.seller in ets_owners and transfer.buyer in ets_owners)
        if inside and transfer.seller != "park" and transfer.buyer != "park":
            ets_adjustment -= twice
        lines.append(
            ReconciliationLine(
                f"− transfer {transfer.carrier} {transfer.seller}→{transfer.buyer} "
                f"({transfer.amount:g} {transfer.unit})",
                -twice,
                running,
                f"buyer counted {transfer.buyer_tco2e:g}, seller deducted {transfer.seller_deducted_tco2e:g}: "
                "the tonne is already counted where the energy was made or bought from outside",
            )
        )
    ets = sum(
        c.tco2e
        for c in components
        if c.tco2e is not None and (c.term, c.part) in ETS_BOUNDARY and (ets_owners is None or c.owner in ets_owners)
    )
    return ParkAccount(
        parts=sums,
        terms=terms,
        gaps=gaps,
        transfer_adjustment_tco2e=adjustment,
        total_tco2e=running,
        ets_boundary_tco2e=ets + ets_adjustment,
        complete=not gaps,
        reconciliation=tuple(lines),
    )


def park_components(inventory: Inventory, owner: str, *, term: str = "enterprises") -> list[ParkComponent]:
    """Map an inventory's rows to parts of formula (3) for one owner.

    Combustion → ``fuel_combustion``; purchased or exported electricity and heat →
    ``purchased_electricity_and_heat``; process, mass balance, measured and fugitive →
    ``process``; ISO category 3 → transport (material transport); category 4 → ``materials``;
    category 5 → ``product_use``; removals → ``sinks``. For ``term="park_energy"`` only the
    purchased energy is taken. Biogenic CO2 stays out.
    """
    out: list[ParkComponent] = []
    for row in inventory.rows:
        a = row.amount
        if a.kind == "biogenic":
            continue
        if a.kind == "removal":
            out.append(ParkComponent("sinks", "sinks", owner, -row.tco2e, f"line {a.line}"))
            continue
        if a.method in ("purchased_electricity", "purchased_heat") or a.category == "2":
            target = (term if term == "park_energy" else "enterprises", "purchased_electricity_and_heat")
        elif term == "park_energy":
            continue
        elif a.category == "3":
            target = ("transport", "material_transport")
        elif a.category == "4":
            target = ("enterprises", "materials")
        elif a.category in ("5", "6"):
            target = ("enterprises", "product_use")
        elif a.method == "fuel_combustion":
            target = ("enterprises", "fuel_combustion")
        else:
            target = ("enterprises", "process")
        out.append(ParkComponent(target[0], target[1], owner, row.tco2e, f"line {a.line} {a.activity} {a.gas}"))
    return out


@dataclass(frozen=True, slots=True)
class Formula8Row:
    """One fuel of formula (8): ``C_j = E_j × W_j × F_j`` [tCO2]; ``amount`` in the NCV's unit."""

    fuel: str
    amount: float
    unit: str
    ncv_gj_per_unit: float
    co2_per_heat_t_per_gj: float
    co2_t: float
    factors: tuple[FactorRow, ...]


@dataclass(frozen=True)
class Formula8Result:
    """Formula (8) over the eight fuels [tCO2]."""

    rows: tuple[Formula8Row, ...]
    total_tco2: float


def formula8(
    consumption: Mapping[str, tuple[float, str]],
    *,
    library: FactorLibrary | None = None,
    factor_set: str = DEFAULT_FACTOR_SET,
) -> Formula8Result:
    """Formula (8): ``C = Σ_j E_j × W_j × F_j`` over coal, coke, crude oil, gasoline, kerosene,
    diesel, fuel oil and natural gas [tCO2].

    ``E_j`` is consumption (amount, unit), ``W_j`` the net calorific value [GJ/unit] and
    ``F_j = CC × OF × 44/12`` the CO2 factor per unit heat [tCO2/GJ] of ``factor_set``. The
    guide's ``/10^9`` is a unit conversion; units are carried explicitly here.

    References
    ----------
    The guide §4.5 formula (8).
    """
    lib = library or default_library()
    rows = []
    for fuel, (amount, unit) in consumption.items():
        if fuel not in FORMULA8_FUELS:
            raise ValidationError("formula (8) fuel", f"one of {', '.join(FORMULA8_FUELS)}", fuel)
        if amount < 0 or amount != amount:
            raise ValidationError(f"formula (8) {fuel}", "an amount >= 0", amount)
        activity = FORMULA8_FUELS[fuel]
        ncv = lib.find("ncv", activity, fuel_set=factor_set)
        cc = lib.find("carbon_content", activity, fuel_set=factor_set)
        of = lib.find("oxidation_rate", activity, fuel_set=factor_set)
        per_unit = parse_rate(ncv.unit, ncv.id).per_unit
        quantity = amount_in(amount, unit, per_unit, activity=activity, where=f"formula (8) {fuel}")
        w = rate_in(ncv.value, ncv.unit, "GJ", per_unit, ncv.id)
        f = rate_in(cc.value, cc.unit, "t", "GJ", cc.id) * of.value * CO2_PER_C
        rows.append(Formula8Row(fuel, quantity, per_unit, w, f, quantity * w * f, (ncv, cc, of)))
    return Formula8Result(tuple(rows), sum(r.co2_t for r in rows))
