"""carbonpark.retrofit: carbon retrofit planning (碳改造).

Economics of abatement projects, the marginal abatement cost curve, portfolio selection by
MILP, a catalogue of reduction measures, and measurement and verification of realised
savings. Pure: no database, no network.

References
----------
Guide §7.4 (碳改造), §6.2 (制定规划); SPEC.md C15; issue 13.
"""

from carbonpark.retrofit.admission import AdmissionCheck, AdmissionResult, ParkFigures, ParkTargets, admission_check
from carbonpark.retrofit.catalogue import (
    DerivedProject,
    Measure,
    catalogue_names,
    load_catalogue,
    parse_catalogue,
    project_from_measure,
)
from carbonpark.retrofit.economics import (
    annualised_capex,
    annualised_cost,
    capital_recovery_factor,
    cost_per_tco2e,
)
from carbonpark.retrofit.macc import MaccEntry, marginal_abatement_cost_curve
from carbonpark.retrofit.portfolio import Portfolio, select_portfolio
from carbonpark.retrofit.projects import PlanInput, Project, parse_plan, parse_projects
from carbonpark.retrofit.rating import (
    EnterpriseRating,
    EnterpriseYear,
    RatingScheme,
    load_rating_scheme,
    rate_enterprises,
)
from carbonpark.retrofit.tracking import (
    BaselineModel,
    PeriodObservation,
    SavingsVerification,
    fit_baseline,
    monthly_degree_days,
    predict,
    verify_savings,
)

__all__ = [
    "AdmissionCheck",
    "AdmissionResult",
    "BaselineModel",
    "DerivedProject",
    "EnterpriseRating",
    "EnterpriseYear",
    "MaccEntry",
    "Measure",
    "ParkFigures",
    "ParkTargets",
    "PeriodObservation",
    "PlanInput",
    "Portfolio",
    "Project",
    "RatingScheme",
    "SavingsVerification",
    "admission_check",
    "annualised_capex",
    "annualised_cost",
    "capital_recovery_factor",
    "catalogue_names",
    "cost_per_tco2e",
    "fit_baseline",
    "load_catalogue",
    "load_rating_scheme",
    "marginal_abatement_cost_curve",
    "monthly_degree_days",
    "parse_catalogue",
    "parse_plan",
    "parse_projects",
    "predict",
    "project_from_measure",
    "rate_enterprises",
    "select_portfolio",
    "verify_savings",
]
