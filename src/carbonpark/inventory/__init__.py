"""carbonpark.inventory: the carbon inventory (碳盘查) and verification (碳核查) engine (SPEC C12, C13).

Pure functions and dataclasses, no database: the ten steps of the guide §7.1 and the verification
steps of §7.2 as tracked workflows (:mod:`.steps`), boundaries (:mod:`.boundary`), compilation from
the accounting engine (:mod:`.compile`), base year and recalculation (:mod:`.baseyear`), IPCC
Approach 1 and 2 uncertainty (:mod:`.uncertainty`), verification findings, statement and key
emitters (:mod:`.verification`), cross-checks (:mod:`.crosschecks`), industry guidelines and
monitoring plans (:mod:`.plans`), the reporting calendar (:mod:`.reporting_calendar`) and the diff of
two inventory states (:mod:`.diff`).
"""

from carbonpark.inventory import crosschecks, deposit, uncertainty
from carbonpark.inventory.baseyear import Recalculation, RecalculationPolicy, recalculate
from carbonpark.inventory.boundary import (
    APPROACHES,
    EntityShare,
    OperationalBoundary,
    OrganisationalBoundary,
    significant_categories,
)
from carbonpark.inventory.compile import GASES, Compilation, DatumQuality, SourceLine, compile_inventory, gas_group
from carbonpark.inventory.diff import diff_details
from carbonpark.inventory.plans import Guideline, PlanEntry, check_plan, default_guideline, guidelines, plan_gaps
from carbonpark.inventory.reporting_calendar import Reminder, deadlines, reminders
from carbonpark.inventory.steps import (
    INVENTORY_STEPS,
    VERIFICATION_STEPS,
    Step,
    StepEvent,
    StepStatus,
    check_transition,
    replay,
)
from carbonpark.inventory.uncertainty import (
    Input,
    Interval,
    Term,
    UncertaintyResult,
    activity_uncertainty,
    approach1,
    approach2,
    factor_uncertainty,
)
from carbonpark.inventory.verification import (
    ASSURANCE_LEVELS,
    KEY_EMITTER_THRESHOLD_TCO2E,
    MATERIALITY_PCT,
    SEVERITIES,
    Finding,
    Opinion,
    is_key_emitter,
    key_emitters,
    opinion,
    retain_until,
)

__all__ = [
    "APPROACHES",
    "ASSURANCE_LEVELS",
    "GASES",
    "INVENTORY_STEPS",
    "KEY_EMITTER_THRESHOLD_TCO2E",
    "MATERIALITY_PCT",
    "SEVERITIES",
    "VERIFICATION_STEPS",
    "Compilation",
    "DatumQuality",
    "EntityShare",
    "Finding",
    "Guideline",
    "Input",
    "Interval",
    "OperationalBoundary",
    "Opinion",
    "OrganisationalBoundary",
    "PlanEntry",
    "Recalculation",
    "RecalculationPolicy",
    "Reminder",
    "SourceLine",
    "Step",
    "StepEvent",
    "StepStatus",
    "Term",
    "UncertaintyResult",
    "activity_uncertainty",
    "approach1",
    "approach2",
    "check_plan",
    "check_transition",
    "compile_inventory",
    "crosschecks",
    "deadlines",
    "default_guideline",
    "deposit",
    "diff_details",
    "factor_uncertainty",
    "gas_group",
    "guidelines",
    "is_key_emitter",
    "key_emitters",
    "opinion",
    "plan_gaps",
    "recalculate",
    "reminders",
    "replay",
    "retain_until",
    "significant_categories",
    "uncertainty",
]
