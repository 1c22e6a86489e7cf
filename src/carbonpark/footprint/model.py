"""Plain data of a product carbon footprint study: products, bills of materials, processes.

Identifiers are plain strings; they may be Handle strings (``88.123.1/prod-7``) and are
never parsed here, so the identifier registry can link them later.

References
----------
ISO 14067:2018 (carbon footprint of products), ISO 14044:2006 §4.3.4 (allocation);
guide §2.1(1) (产品碳足迹: 全生命周期的碳足迹跟踪), §2.2 (生成 LCA 报告).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

__all__ = [
    "ALLOCATION_METHODS",
    "CRADLE_TO_GATE_STAGES",
    "STAGES",
    "EnergyLine",
    "InputLine",
    "Process",
    "ProcessOutput",
    "Product",
    "TransportLeg",
]

#: Life-cycle stages of the breakdown, in report order. ``use_phase`` is optional.
STAGES: tuple[str, ...] = (
    "raw_materials",
    "inbound_transport",
    "manufacturing_energy",
    "process",
    "packaging",
    "use_phase",
)
#: Stages inside the cradle-to-gate boundary (what flows into a product that uses this one).
CRADLE_TO_GATE_STAGES: tuple[str, ...] = STAGES[:-1]

#: How a multi-output process shares its emissions (ISO 14044 §4.3.4.2: physical, then economic).
ALLOCATION_METHODS: tuple[str, ...] = ("mass", "economic", "physical")


@dataclass(frozen=True)
class TransportLeg:
    """One transport leg: ``distance_km × mass_t × factor_tco2e_per_tkm`` [tCO2e].

    Attributes
    ----------
    mode
        Free text (``truck``, ``rail``, ``ship`` …).
    distance_km
        [km].
    mass_t
        Mass moved per unit of the product [t]; None on an input's leg means "the input's
        amount, converted to tonnes".
    factor_tco2e_per_tkm
        Emission factor [tCO2e/(t·km)].
    source
        Where the factor comes from.
    """

    mode: str
    distance_km: float
    factor_tco2e_per_tkm: float
    mass_t: float | None = None
    source: str | None = None


@dataclass(frozen=True)
class InputLine:
    """An input of the bill of materials, per unit of the output.

    Attributes
    ----------
    product
        Id of the input product (listed in the same study).
    amount
        Amount per unit of output, in the input product's unit (or in ``unit``).
    unit
        Unit of ``amount`` when it differs from the input product's unit (converted with pint).
    stage
        ``raw_materials`` (default) or ``packaging``.
    transport
        Inbound legs bringing this input to the gate.
    """

    product: str
    amount: float
    unit: str | None = None
    stage: str = "raw_materials"
    transport: tuple[TransportLeg, ...] = ()


@dataclass(frozen=True)
class EnergyLine:
    """Energy used per unit of output (or per run of a process).

    Attributes
    ----------
    activity
        What is used (``electricity``, ``natural_gas`` …), as the accounting engine names it.
    amount
        Amount in ``unit``.
    unit
        [kWh], [Nm3], [GJ] …
    factor_tco2e_per_unit
        Emission factor [tCO2e per ``unit``]; None to ask the accounting engine.
    source
        Where the factor comes from.
    """

    activity: str
    amount: float
    unit: str
    factor_tco2e_per_unit: float | None = None
    source: str | None = None


@dataclass(frozen=True)
class ProcessOutput:
    """One product of a multi-output process, per run.

    Attributes
    ----------
    product
        Product id.
    amount
        Output per run, in the product's unit.
    mass_t_per_unit
        Mass of one unit [t/unit], for mass allocation (derived from the unit when it is a mass unit).
    price_per_unit
        Price of one unit [CNY/unit], for economic allocation.
    """

    product: str
    amount: float
    mass_t_per_unit: float | None = None
    price_per_unit: Decimal | None = None


@dataclass(frozen=True)
class Process:
    """A process making several products at once; its emissions are allocated among them.

    Inputs, energy, transport and ``process_tco2e`` are per run; ``outputs`` say what one run makes.
    """

    id: str
    outputs: tuple[ProcessOutput, ...]
    allocation: str = "mass"
    inputs: tuple[InputLine, ...] = ()
    energy: tuple[EnergyLine, ...] = ()
    transport: tuple[TransportLeg, ...] = ()
    process_tco2e: float = 0.0


@dataclass(frozen=True)
class Product:
    """A product of the study, per its declared unit.

    Either ``footprint_tco2e_per_unit`` is given (a purchased input with a supplier's
    figure, or a known footprint), or the footprint is built from the product's own
    ``inputs``, ``energy``, ``transport``, ``process_tco2e_per_unit`` and its share of
    the ``process`` that makes it.
    """

    id: str
    unit: str
    footprint_tco2e_per_unit: float | None = None
    source: str | None = None
    process_tco2e_per_unit: float = 0.0
    inputs: tuple[InputLine, ...] = ()
    energy: tuple[EnergyLine, ...] = ()
    transport: tuple[TransportLeg, ...] = ()
    use_phase_tco2e_per_unit: float | None = None
    process: str | None = None
    name: str | None = None

    @property
    def is_given(self) -> bool:
        """True when the footprint is a given figure, not computed from a bill of materials."""
        return self.footprint_tco2e_per_unit is not None
