"""Tracked workflows: the ten inventory steps (guide §7.1) and the eight verification steps (§7.2).

A workflow is an ordered list of steps; each step is ``pending`` → ``in_progress`` → ``done``
and may be reopened (``done`` → ``in_progress``). A step may only start when the step before it
is done, and reopening a step reopens nothing else but blocks the later steps from being
completed again until it is done. Every transition is an :class:`StepEvent` (who, when, what,
note); the current state is replayed from the events, so the history is never overwritten.

References
----------
The guide §7.1 (碳盘查的具体步骤, the ten-step table) and §7.2 (碳核查的主要步骤);
ISO 14064-1:2018 clauses 5-9 (boundaries, quantification, quality, reporting, verification).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from carbonpark.errors import ConflictError, ValidationError

__all__ = [
    "INVENTORY_STEPS",
    "STATES",
    "VERIFICATION_STEPS",
    "Step",
    "StepEvent",
    "StepStatus",
    "check_transition",
    "replay",
]

#: Step states and the transitions allowed between them.
STATES: tuple[str, ...] = ("pending", "in_progress", "done")
_ALLOWED = {("pending", "in_progress"), ("in_progress", "done"), ("done", "in_progress"), ("pending", "done")}


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a workflow: key, Chinese and English names, what it produces."""

    key: str
    name_zh: str
    name_en: str
    output: str


#: The ten steps of the guide §7.1 (碳盘查), in order.
INVENTORY_STEPS: tuple[Step, ...] = (
    Step("feasibility", "项目全面性与可行性评估", "Feasibility assessment", "assessment note"),
    Step(
        "boundary",
        "盘查边界的设定",
        "Organisational and operational boundary",
        "approach (operational/financial control or equity share with %), categories included/excluded",
    ),
    Step("base_year", "基准年的设定", "Base year and recalculation policy", "base year, its inventory, policy"),
    Step(
        "sources",
        "温室气体排放源的认定与鉴别",
        "Source identification",
        "sources by gas (CO2, CH4, N2O, HFCs, PFCs, SF6, NF3)",
    ),
    Step("quantification", "温室气体量化计算", "Quantification", "emission rows through the accounting engine"),
    Step(
        "compilation",
        "GHG 清单的编制",
        "Inventory compilation",
        "direct by gas, removals, energy indirect, other indirect by category, biogenic CO2 apart",
    ),
    Step("data_quality", "数据与信息品质管理", "Data quality and uncertainty", "uncertainty assessment, evidence"),
    Step("report", "盘查报告书的制作", "Inventory report", "ISO 14064-1 report"),
    Step("internal_review", "内部查证与高层评审", "Internal review and sign-off", "management sign-off"),
    Step("external_verification", "外部查证", "External verification", "verification statement"),
)

#: The verification steps of the guide §7.2 (碳核查), in order.
VERIFICATION_STEPS: tuple[Step, ...] = (
    Step("agreement", "签订协议", "Agreement", "contract with the verifier"),
    Step("preparation", "核查准备", "Preparation", "verification plan and team"),
    Step("document_review", "文件评审", "Document review", "review of the report, plan and evidence"),
    Step("site_visit", "现场核查", "On-site visit", "site visit, findings"),
    Step("report", "核查报告编制", "Verification report", "draft verification report"),
    Step("technical_review", "内部技术评审", "Internal technical review", "independent review of the report"),
    Step("delivery", "核查报告交付", "Delivery", "report and statement delivered"),
    Step("record_keeping", "记录保存", "Record keeping", "records kept at least five years"),
)


@dataclass(frozen=True, slots=True)
class StepEvent:
    """One transition of one step: ``state`` is the state after it; ``at_ms`` UTC epoch ms."""

    step: str
    state: str
    actor: str
    at_ms: int
    note: str = ""


@dataclass(frozen=True, slots=True)
class StepStatus:
    """The replayed state of one step, with who moved it last and when."""

    step: Step
    state: str
    actor: str = ""
    at_ms: int | None = None
    note: str = ""
    events: int = 0


def _index(steps: Sequence[Step], key: str) -> int:
    for i, step in enumerate(steps):
        if step.key == key:
            return i
    raise ValidationError("step", f"one of {', '.join(s.key for s in steps)}", key)


def replay(steps: Sequence[Step], events: Iterable[StepEvent]) -> list[StepStatus]:
    """The current status of every step from its events (in the order given)."""
    status = {s.key: StepStatus(s, "pending") for s in steps}
    for event in events:
        _index(steps, event.step)
        old = status[event.step]
        status[event.step] = StepStatus(old.step, event.state, event.actor, event.at_ms, event.note, old.events + 1)
    return [status[s.key] for s in steps]


def check_transition(steps: Sequence[Step], events: Iterable[StepEvent], step: str, state: str) -> None:
    """Raise unless moving ``step`` to ``state`` is allowed now.

    Raises
    ------
    ValidationError
        For an unknown step or state.
    ConflictError
        For a transition the state machine does not allow, or when the previous step is not done.
    """
    i = _index(steps, step)
    if state not in STATES or state == "pending":
        raise ValidationError("state", "in_progress or done", state)
    current = replay(steps, events)
    now = current[i].state
    if (now, state) not in _ALLOWED:
        raise ConflictError(f"step {step} is {now}; it cannot go to {state} (allowed: pending → in_progress → done)")
    if state in ("in_progress", "done") and i > 0 and current[i - 1].state != "done":
        prev = current[i - 1]
        raise ConflictError(
            f"step {step} needs the previous step {prev.step.key} ({prev.step.name_en}) done first; it is {prev.state}"
        )
