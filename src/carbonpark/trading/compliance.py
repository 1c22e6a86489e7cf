"""Annual compliance (清缴履约): obligation, CCER cap, shortfall, penalty and deadlines.

An enterprise surrenders allowances and CCER credits at least equal to its verified
emissions. CCER may cover at most ``floor(cap fraction × verified emissions)`` whole
tonnes (5% in the national ETS; configurable per programme). Surrendering more CCER than
the cap, more than the enterprise holds, or more than the obligation is *rejected*
(nothing is surrendered); surrendering too little is a *shortfall*, shown with the
penalty range the programme sets.

References
----------
《碳排放权交易管理办法（试行）》 (MEE Decree No. 19, 2021): CCER ≤ 5% of the allowances
due, report by 31 March, fine 2万–3万元 plus an equal deduction from next year's
allowances (REFERENCE_DATA.md §5a, grade A). 《碳排放权交易管理暂行条例》 (State Council
Decree No. 775, in force 2024-05-01): fine 5–10 × the average market price of the month
before the deadline × the shortfall, and the shortfall deducted from next year's
allowances (REFERENCE_DATA.md §5b, grade C). Guide §7.3(1) and (4).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

from carbonpark.errors import ValidationError
from carbonpark.trading.assets import ALLOWANCE, AVAILABLE, CCER, FEN, Asset
from carbonpark.trading.registry import Movement, Registry

__all__ = [
    "COMPLIANT",
    "NATIONAL_ETS_2021",
    "NATIONAL_ETS_2024",
    "REJECTED",
    "SHORTFALL",
    "ComplianceAssessment",
    "ComplianceProgramme",
    "Penalty",
    "assess_surrender",
    "ccer_cap",
    "compliance_calendar",
    "days_to",
    "eligible_allowance_vintages",
    "penalty_for",
    "surrender",
]

COMPLIANT = "compliant"
SHORTFALL = "shortfall"
REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class ComplianceProgramme:
    """Rules of one compliance programme.

    Parameters
    ----------
    name
        Short name, e.g. ``national-ets-2024``.
    ccer_cap_fraction
        Share of the obligation that CCER may cover [-]; the cap is floored to whole tonnes.
    fine_fixed_cny
        Fixed fine range for not surrendering in full and on time [CNY], or ``None``.
    fine_price_multiple
        Fine as a multiple range of the reference market price × shortfall [-], or ``None``.
    deduct_shortfall_next_year
        Whether the shortfall is deducted from next year's allocation.
    report_due
        (month, day) in the year after the compliance year when the emission report is due.
    verification_due
        (month, day) in the following year by which provinces finish verification.
    surrender_due
        (month, day) in the following year by which allowances are surrendered (set by
        each year's allocation plan; 31 December is the 2023/2024 plans' date, grade C).
    source
        The rule texts this programme follows.
    """

    name: str
    ccer_cap_fraction: Decimal = Decimal("0.05")
    fine_fixed_cny: tuple[Decimal, Decimal] | None = None
    fine_price_multiple: tuple[Decimal, Decimal] | None = None
    deduct_shortfall_next_year: bool = True
    report_due: tuple[int, int] = (3, 31)
    verification_due: tuple[int, int] = (6, 30)
    surrender_due: tuple[int, int] = (12, 31)
    source: str = ""

    def __post_init__(self) -> None:
        if not Decimal(0) <= self.ccer_cap_fraction <= Decimal(1):
            raise ValidationError("ccer_cap_fraction", "a share between 0 and 1", self.ccer_cap_fraction)


NATIONAL_ETS_2021 = ComplianceProgramme(
    name="national-ets-2021",
    fine_fixed_cny=(Decimal(20_000), Decimal(30_000)),
    source="碳排放权交易管理办法（试行） (MEE Decree No. 19, 2021), Art. 29 and 40",
)
"""National ETS under the 2021 Measures: fixed fine 20,000–30,000 CNY."""

NATIONAL_ETS_2024 = ComplianceProgramme(
    name="national-ets-2024",
    fine_price_multiple=(Decimal(5), Decimal(10)),
    source="碳排放权交易管理暂行条例 (State Council Decree No. 775, 2024); CCER cap from the 2021 Measures",
)
"""National ETS under the 2024 Interim Regulations: fine 5–10 × market price × shortfall."""


@dataclass(frozen=True, slots=True)
class Penalty:
    """What a shortfall costs.

    Attributes
    ----------
    fine_min_cny, fine_max_cny
        Fine range [CNY]; ``None`` when it needs a market price that was not given.
    deduction_next_year_t
        Allowances deducted from next year's allocation [tCO2e].
    basis
        The rule, in words.
    """

    fine_min_cny: Decimal | None
    fine_max_cny: Decimal | None
    deduction_next_year_t: int
    basis: str


@dataclass(frozen=True, slots=True)
class ComplianceAssessment:
    """Outcome of a surrender request against an obligation.

    Attributes
    ----------
    status
        ``compliant``, ``shortfall`` or ``rejected``.
    reason
        Why, in one sentence (empty when compliant).
    verified_tco2e
        Verified emissions = the obligation [tCO2e].
    ccer_cap_t
        Most CCER usable [tCO2e].
    surrender_allowances, surrender_ccer
        What will be (or was asked to be) surrendered [t].
    surrendered_t
        What counts against the obligation (0 when rejected) [tCO2e].
    shortfall_t
        Obligation not covered [tCO2e].
    penalty
        The penalty when there is a shortfall, else ``None``.
    """

    status: str
    reason: str
    verified_tco2e: int
    ccer_cap_t: int
    surrender_allowances: int
    surrender_ccer: int
    surrendered_t: int
    shortfall_t: int
    penalty: Penalty | None = None
    movements: list[Movement] = field(default_factory=list)


def ccer_cap(verified_tco2e: int, fraction: Decimal = Decimal("0.05")) -> int:
    """Most CCER usable for one year's obligation: ``floor(fraction × verified)`` [tCO2e].

    References
    ----------
    MEE Decree No. 19 (2021) Art. 29; guide §7.3(4): ≤ 5% of the allowances due.

    Examples
    --------
    >>> ccer_cap(60), ccer_cap(100), ccer_cap(119)
    (3, 5, 5)
    """
    if isinstance(verified_tco2e, bool) or not isinstance(verified_tco2e, int) or verified_tco2e < 0:
        raise ValidationError("verified_tco2e", "a whole number of tonnes ≥ 0", verified_tco2e)
    return int((fraction * verified_tco2e).to_integral_value(rounding=ROUND_FLOOR))


def penalty_for(shortfall_t: int, programme: ComplianceProgramme, market_price: Decimal | None = None) -> Penalty:
    """Penalty of a shortfall under ``programme``.

    Parameters
    ----------
    shortfall_t
        Tonnes not surrendered [tCO2e].
    programme
        The rules.
    market_price
        Reference price [CNY/t] (for Decree 775: the average of the month before the deadline).
    """
    low: Decimal | None = Decimal(0)
    high: Decimal | None = Decimal(0)
    basis: list[str] = []
    if programme.fine_fixed_cny is not None:
        low = (low or Decimal(0)) + programme.fine_fixed_cny[0]
        high = (high or Decimal(0)) + programme.fine_fixed_cny[1]
        basis.append(f"fine {programme.fine_fixed_cny[0]}–{programme.fine_fixed_cny[1]} CNY")
    if programme.fine_price_multiple is not None:
        lo_m, hi_m = programme.fine_price_multiple
        basis.append(f"fine {lo_m}–{hi_m} × market price × shortfall")
        if market_price is None:
            low = high = None
            basis.append("(market price not given)")
        else:
            low = None if low is None else low + (lo_m * market_price * shortfall_t).quantize(FEN)
            high = None if high is None else high + (hi_m * market_price * shortfall_t).quantize(FEN)
    deduction = shortfall_t if programme.deduct_shortfall_next_year else 0
    if deduction:
        basis.append(f"{deduction} t deducted from next year's allowances")
    return Penalty(low, high, deduction, "; ".join(basis) + f" ({programme.source})")


def assess_surrender(
    verified_tco2e: int,
    surrender_allowances: int,
    surrender_ccer: int,
    held_allowances: int,
    held_ccer: int,
    programme: ComplianceProgramme = NATIONAL_ETS_2024,
    market_price: Decimal | None = None,
) -> ComplianceAssessment:
    """Judge a surrender request (pure; nothing moves).

    Parameters
    ----------
    verified_tco2e
        Verified emissions of the compliance year = the obligation [tCO2e].
    surrender_allowances, surrender_ccer
        Tonnes the enterprise asks to surrender [t].
    held_allowances, held_ccer
        Eligible tonnes it holds, available (not reserved for orders) [t].
    programme
        Cap fraction and penalty rules.
    market_price
        Reference price for a price-based fine [CNY/t].

    Returns
    -------
    ComplianceAssessment
        ``rejected`` if the CCER exceed the cap, the request exceeds the holdings or the
        obligation; else ``shortfall`` if it covers less than the obligation; else
        ``compliant``.

    References
    ----------
    Guide §7.3(4); MEE Decree No. 19 Art. 29; State Council Decree No. 775.
    """
    for name, value in (
        ("verified_tco2e", verified_tco2e),
        ("surrender_allowances", surrender_allowances),
        ("surrender_ccer", surrender_ccer),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValidationError(name, "a whole number of tonnes ≥ 0", value)
    cap = ccer_cap(verified_tco2e, programme.ccer_cap_fraction)
    reason = ""
    if surrender_ccer > cap:
        reason = (
            f"CCER {surrender_ccer} t exceeds the cap floor({programme.ccer_cap_fraction} × {verified_tco2e}) = {cap} t"
        )
    elif surrender_allowances > held_allowances:
        reason = (
            f"surrender of {surrender_allowances} t allowances but only {held_allowances} t "
            "of eligible vintages held and not reserved for orders"
        )
    elif surrender_ccer > held_ccer:
        reason = f"surrender of {surrender_ccer} t CCER but only {held_ccer} t held and not reserved for orders"
    elif surrender_allowances + surrender_ccer > verified_tco2e:
        reason = f"surrender of {surrender_allowances + surrender_ccer} t exceeds the obligation of {verified_tco2e} t"
    if reason:
        penalty = penalty_for(verified_tco2e, programme, market_price) if verified_tco2e else None
        return ComplianceAssessment(
            REJECTED,
            reason,
            verified_tco2e,
            cap,
            surrender_allowances,
            surrender_ccer,
            0,
            verified_tco2e,
            penalty,
        )
    covered = surrender_allowances + surrender_ccer
    shortfall = verified_tco2e - covered
    if shortfall > 0:
        return ComplianceAssessment(
            SHORTFALL,
            f"surrendered {covered} t of {verified_tco2e} t: {shortfall} t short",
            verified_tco2e,
            cap,
            surrender_allowances,
            surrender_ccer,
            covered,
            shortfall,
            penalty_for(shortfall, programme, market_price),
        )
    return ComplianceAssessment(COMPLIANT, "", verified_tco2e, cap, surrender_allowances, surrender_ccer, covered, 0)


def eligible_allowance_vintages(registry: Registry, holder: str, year: int | None) -> list[tuple[Asset, int]]:
    """Allowance vintages usable for compliance year ``year``, oldest first, with available tonnes.

    Banked allowances (vintage ≤ year) and undated ones count; later vintages do not.
    """
    result: list[tuple[Asset, int]] = []
    for asset, _ in registry.holdings(holder).items():
        if asset.kind != ALLOWANCE:
            continue
        if year is not None and asset.vintage is not None and asset.vintage > year:
            continue
        available = int(registry.balance(holder, asset, AVAILABLE))
        if available > 0:
            result.append((asset, available))
    result.sort(key=lambda item: (item[0].vintage is not None, item[0].vintage or 0))
    return result


def surrender(
    registry: Registry,
    holder: str,
    verified_tco2e: int,
    surrender_allowances: int,
    surrender_ccer: int,
    year: int | None = None,
    programme: ComplianceProgramme = NATIONAL_ETS_2024,
    market_price: Decimal | None = None,
) -> ComplianceAssessment:
    """Assess and, unless rejected, surrender in one atomic registry operation.

    Allowances are taken oldest eligible vintage first; movements go to the
    ``@surrendered`` sink with reason ``surrender`` and are listed in the result.
    """
    vintages = eligible_allowance_vintages(registry, holder, year)
    held_allowances = sum(amount for _, amount in vintages)
    held_ccer = int(registry.balance(holder, Asset(CCER), AVAILABLE))
    assessment = assess_surrender(
        verified_tco2e,
        surrender_allowances,
        surrender_ccer,
        held_allowances,
        held_ccer,
        programme,
        market_price,
    )
    if assessment.status == REJECTED:
        return assessment
    ref = f"compliance:{year}" if year is not None else "compliance"
    moves: list[Movement] = []
    with registry.atomic():
        remaining = surrender_allowances
        for asset, available in vintages:
            if remaining == 0:
                break
            take = min(available, remaining)
            moves.append(registry.surrender(holder, asset, take, ref))
            remaining -= take
        if surrender_ccer:
            moves.append(registry.surrender(holder, Asset(CCER), surrender_ccer, ref))
    assessment.movements.extend(moves)
    return assessment


def compliance_calendar(year: int, programme: ComplianceProgramme = NATIONAL_ETS_2024) -> dict[str, dt.date]:
    """Deadlines of compliance year ``year`` (all in the following year).

    References
    ----------
    MEE Decree No. 19 Art. 25 (report by 31 March); MEE notice of Feb 2023 (verification
    by 30 June); the year's allocation plan (surrender date). REFERENCE_DATA.md §5a.

    Examples
    --------
    >>> compliance_calendar(2024)["report_due"]
    datetime.date(2025, 3, 31)
    """
    following = year + 1

    def on(month_day: tuple[int, int]) -> dt.date:
        return dt.date(following, *month_day)

    return {
        "report_due": on(programme.report_due),
        "verification_due": on(programme.verification_due),
        "surrender_due": on(programme.surrender_due),
    }


def days_to(deadline: dt.date, today: dt.date) -> int:
    """Days left until ``deadline`` (negative when overdue)."""
    return (deadline - today).days
