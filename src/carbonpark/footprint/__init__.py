"""carbonpark.footprint: product carbon footprints (产品碳足迹).

Cradle-to-gate (optionally with use phase) footprints from bills of materials, process
emissions, energy, transport and supplier footprints, with allocation for multi-output
processes and the lineage of every figure; an ISO 14067-style inventory as data.
Pure: no database, no network. Product ids may be Handle strings.

References
----------
ISO 14067:2018; ISO 14044:2006 §4.3.4; guide §2.1(1), §2.2; SPEC.md C17; issue 7.
"""

from carbonpark.footprint.accounting_link import accounting_energy_accountant
from carbonpark.footprint.engine import (
    Allocation,
    Contribution,
    EnergyAccountant,
    ProductFootprint,
    TracedContribution,
    allocation_shares,
    compute_footprints,
    trace,
)
from carbonpark.footprint.model import (
    ALLOCATION_METHODS,
    CRADLE_TO_GATE_STAGES,
    STAGES,
    EnergyLine,
    InputLine,
    Process,
    ProcessOutput,
    Product,
    TransportLeg,
)
from carbonpark.footprint.parse import Study, parse_study
from carbonpark.footprint.report import inventory_report

__all__ = [
    "ALLOCATION_METHODS",
    "CRADLE_TO_GATE_STAGES",
    "STAGES",
    "Allocation",
    "Contribution",
    "EnergyAccountant",
    "EnergyLine",
    "InputLine",
    "Process",
    "ProcessOutput",
    "Product",
    "ProductFootprint",
    "Study",
    "TracedContribution",
    "TransportLeg",
    "accounting_energy_accountant",
    "allocation_shares",
    "compute_footprints",
    "inventory_report",
    "parse_study",
    "trace",
]
