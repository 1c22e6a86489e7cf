"""Cradle-to-gate product carbon footprints from bills of materials.

The footprint of one unit of a product is the sum of

* **raw_materials** / **packaging**: ``amount × footprint`` of each input, recursively (a
  given supplier figure ends the recursion);
* **inbound_transport**: ``distance_km × mass_t × factor_tco2e_per_tkm`` of each leg;
* **manufacturing_energy**: ``amount × factor`` of each energy line (or what the accounting
  engine returns for it);
* **process**: the product's process emissions per unit;
* its **allocated share** of a multi-output process (mass, economic or physical allocation,
  ISO 14044 §4.3.4.2), each stage of the process scaled by ``share / output per run``;
* optionally **use_phase** (never passed on: when a product is an input of another, only its
  cradle-to-gate part flows on).

Every figure is a :class:`Contribution` that keeps its lineage (what, how much, which factor,
the formula, the source). Cycles in the supply graph are an error naming the cycle.

References
----------
ISO 14067:2018 §6.3 (system boundary), §6.4.6 (allocation); ISO 14044:2006 §4.3.4;
guide §2.1(1) (产品碳足迹), §2.2 (生成 LCA 报告, 清单结果); SPEC.md C17.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from carbonpark.errors import UnitError, ValidationError
from carbonpark.footprint.model import (
    CRADLE_TO_GATE_STAGES,
    EnergyLine,
    InputLine,
    Process,
    Product,
    TransportLeg,
)
from carbonpark.footprint.parse import Study
from carbonpark.units import convert

__all__ = [
    "Allocation",
    "Contribution",
    "EnergyAccountant",
    "ProductFootprint",
    "TracedContribution",
    "allocation_shares",
    "compute_footprints",
    "trace",
]

#: Accounts one energy line: returns ``(tCO2e for the whole line, lineage text)``.
EnergyAccountant = Callable[[EnergyLine], tuple[float, str]]


@dataclass(frozen=True)
class Contribution:
    """One term of a footprint, per unit of the product, with its lineage.

    Attributes
    ----------
    stage
        Life-cycle stage (see :data:`~carbonpark.footprint.model.STAGES`).
    kind
        ``given``, ``input``, ``energy``, ``process``, ``transport`` or ``use_phase``.
    ref
        What it is about: input product id, energy activity, transport mode, process id.
    tco2e
        Emissions per unit of the product [tCO2e/unit].
    quantity, quantity_unit
        How much of ``ref`` per unit of the product (after allocation).
    factor, factor_unit
        The factor multiplied with ``quantity`` (an input's footprint, an emission factor).
    formula
        The arithmetic, in words and numbers.
    source
        Where the factor or figure comes from.
    allocation
        Set when the term reaches the product through a multi-output process.
    """

    stage: str
    kind: str
    ref: str
    tco2e: float
    quantity: float | None
    quantity_unit: str | None
    factor: float | None
    factor_unit: str | None
    formula: str
    source: str | None = None
    allocation: str | None = None


@dataclass(frozen=True)
class Allocation:
    """How a product's share of a multi-output process was set."""

    process: str
    method: str
    share: float
    output_per_run: float
    basis: str


@dataclass(frozen=True)
class ProductFootprint:
    """The footprint of one unit of a product.

    Attributes
    ----------
    tco2e_per_unit
        Total within the boundary [tCO2e/unit] (cradle-to-gate, plus use phase if asked for).
    cradle_to_gate_tco2e_per_unit
        Cradle-to-gate part [tCO2e/unit], the part that flows into products using this one.
    by_stage
        [tCO2e/unit] per life-cycle stage.
    by_input
        [tCO2e/unit] embodied in each direct input product (transport of inputs is in
        ``inbound_transport``, not here).
    """

    product: str
    unit: str
    boundary: str
    tco2e_per_unit: float
    cradle_to_gate_tco2e_per_unit: float
    by_stage: dict[str, float]
    by_input: dict[str, float]
    contributions: tuple[Contribution, ...]
    given: bool
    allocation: Allocation | None = None


@dataclass(frozen=True)
class TracedContribution:
    """A leaf term reached through the supply chain (for hotspots and Sankey charts)."""

    path: tuple[str, ...]
    stage: str
    origin_stage: str
    kind: str
    ref: str
    tco2e: float
    source: str | None = None
    allocations: tuple[str, ...] = field(default_factory=tuple)


# --- the supply graph ------------------------------------------------------------------------------

Node = tuple[str, str]  # ("product", id) or ("process", id)


def _label(node: Node) -> str:
    return node[1] if node[0] == "product" else f"process:{node[1]}"


def _dependencies(study: Study, node: Node) -> list[Node]:
    kind, ident = node
    if kind == "process":
        process = study.processes[ident]
        return [
            ("product", _known_input(study, f"process {ident!r}", i, line)) for i, line in enumerate(process.inputs)
        ]
    product = study.products[ident]
    deps: list[Node] = [
        ("product", _known_input(study, f"product {ident!r}", i, line)) for i, line in enumerate(product.inputs)
    ]
    if product.process is not None:
        if product.process not in study.processes:
            raise ValidationError(f"product {ident!r}.process", "a process listed in processes", product.process)
        deps.append(("process", product.process))
    return deps


def _known_input(study: Study, owner: str, index: int, line: InputLine) -> str:
    if line.product not in study.products:
        raise ValidationError(
            f"{owner}.inputs[{index}].product",
            f"a product listed in the study ({', '.join(sorted(study.products))})",
            line.product,
        )
    return line.product


def _topological_order(study: Study) -> list[Node]:
    """Every node after all it depends on; a cycle raises an error that names it."""
    nodes: list[Node] = [("product", p) for p in study.products] + [("process", p) for p in study.processes]
    state: dict[Node, int] = {}  # 1: on the current path, 2: done
    order: list[Node] = []
    for start in nodes:
        if state.get(start) == 2:
            continue
        state[start] = 1
        path: list[Node] = [start]
        stack: list[tuple[Node, Iterator[Node]]] = [(start, iter(_dependencies(study, start)))]
        while stack:
            node, pending = stack[-1]
            nxt = next(pending, None)
            if nxt is None:
                stack.pop()
                path.pop()
                state[node] = 2
                order.append(node)
            elif state.get(nxt) == 1:
                cycle = [*path[path.index(nxt) :], nxt]
                raise ValidationError(
                    "supply graph", "bills of materials without cycles", " → ".join(_label(n) for n in cycle)
                )
            elif state.get(nxt) != 2:
                state[nxt] = 1
                path.append(nxt)
                stack.append((nxt, iter(_dependencies(study, nxt))))
    return order


# --- terms -----------------------------------------------------------------------------------------


def _amount_in_product_unit(line: InputLine, product: Product, where: str) -> float:
    if line.unit is None or line.unit == product.unit:
        return line.amount
    try:
        return convert(line.amount, line.unit, product.unit)
    except UnitError as exc:
        raise UnitError(f"{where}.unit", f"a unit convertible to {product.unit!r}", line.unit) from exc


def _mass_t(amount: float, unit: str) -> float | None:
    try:
        return convert(amount, unit, "t")
    except UnitError:
        return None


def _transport_term(leg: TransportLeg, mass_t: float, carried: str) -> Contribution:
    tco2e = leg.distance_km * mass_t * leg.factor_tco2e_per_tkm
    return Contribution(
        stage="inbound_transport",
        kind="transport",
        ref=f"{leg.mode}: {carried}",
        tco2e=tco2e,
        quantity=leg.distance_km * mass_t,
        quantity_unit="t·km",
        factor=leg.factor_tco2e_per_tkm,
        factor_unit="tCO2e/(t·km)",
        formula=f"{leg.distance_km} km × {mass_t} t × {leg.factor_tco2e_per_tkm} tCO2e/(t·km)",
        source=leg.source,
    )


def _energy_term(line: EnergyLine, accountant: EnergyAccountant | None, where: str) -> Contribution:
    factor: float | None
    source: str | None
    if line.factor_tco2e_per_unit is not None:
        tco2e = line.amount * line.factor_tco2e_per_unit
        formula = f"{line.amount} {line.unit} × {line.factor_tco2e_per_unit} tCO2e/{line.unit}"
        source, factor = line.source, line.factor_tco2e_per_unit
    elif accountant is not None:
        tco2e, source = accountant(line)
        factor = tco2e / line.amount if line.amount else None
        formula = f"{line.amount} {line.unit} of {line.activity}, accounted: {tco2e} tCO2e"
    else:
        raise ValidationError(
            f"{where}.factor_tco2e_per_unit",
            f"an emission factor [tCO2e/{line.unit}] (no accounting engine was given)",
            None,
        )
    return Contribution(
        stage="manufacturing_energy",
        kind="energy",
        ref=line.activity,
        tco2e=tco2e,
        quantity=line.amount,
        quantity_unit=line.unit,
        factor=factor,
        factor_unit=f"tCO2e/{line.unit}",
        formula=formula,
        source=source,
    )


def _line_terms(
    owner: str,
    inputs: tuple[InputLine, ...],
    energy: tuple[EnergyLine, ...],
    transport: tuple[TransportLeg, ...],
    study: Study,
    done: dict[str, ProductFootprint],
    accountant: EnergyAccountant | None,
) -> list[Contribution]:
    """Terms of inputs (with their inbound legs), energy and own transport legs."""
    terms: list[Contribution] = []
    for i, line in enumerate(inputs):
        where = f"{owner}.inputs[{i}]"
        supplier = study.products[line.product]
        upstream = done[line.product]
        amount = _amount_in_product_unit(line, supplier, where)
        per_unit = upstream.cradle_to_gate_tco2e_per_unit
        terms.append(
            Contribution(
                stage=line.stage,
                kind="input",
                ref=line.product,
                tco2e=amount * per_unit,
                quantity=amount,
                quantity_unit=supplier.unit,
                factor=per_unit,
                factor_unit=f"tCO2e/{supplier.unit}",
                formula=f"{amount} {supplier.unit} × {per_unit} tCO2e/{supplier.unit}",
                source="given footprint" + (f" ({supplier.source})" if supplier.source else "")
                if upstream.given
                else "computed from its bill of materials",
            )
        )
        for j, leg in enumerate(line.transport):
            mass = leg.mass_t if leg.mass_t is not None else _mass_t(amount, supplier.unit)
            if mass is None:
                raise ValidationError(
                    f"{where}.transport[{j}].mass_t",
                    f"the mass moved [t] ({supplier.unit!r} is not a mass unit)",
                    None,
                )
            terms.append(_transport_term(leg, mass, line.product))
    terms.extend(_energy_term(line, accountant, f"{owner}.energy[{i}]") for i, line in enumerate(energy))
    for leg in transport:
        assert leg.mass_t is not None  # required by the parser on product- and process-level legs
        terms.append(_transport_term(leg, leg.mass_t, owner))
    return terms


def _process_run_terms(
    process: Process, study: Study, done: dict[str, ProductFootprint], accountant: EnergyAccountant | None
) -> list[Contribution]:
    terms = _line_terms(
        f"process {process.id!r}", process.inputs, process.energy, process.transport, study, done, accountant
    )
    if process.process_tco2e:
        terms.append(
            Contribution(
                stage="process",
                kind="process",
                ref=process.id,
                tco2e=process.process_tco2e,
                quantity=1.0,
                quantity_unit="run",
                factor=process.process_tco2e,
                factor_unit="tCO2e/run",
                formula=f"{process.process_tco2e} tCO2e per run",
            )
        )
    return terms


def allocation_shares(process: Process, study: Study) -> dict[str, tuple[float, str]]:
    """Each output's share of the process and the basis used, by the process's method.

    * ``mass``: ``amount × mass per unit`` (the unit's own mass when it is a mass unit);
    * ``economic``: ``amount × price per unit`` [CNY];
    * ``physical``: ``amount`` in a common unit (all outputs convertible to the first one's).

    References
    ----------
    ISO 14044:2006 §4.3.4.2; ISO 14067:2018 §6.4.6.
    """
    weights: dict[str, Decimal] = {}
    basis: dict[str, str] = {}
    first_unit = study.products[process.outputs[0].product].unit
    for i, out in enumerate(process.outputs):
        where = f"process {process.id!r}.outputs[{i}]"
        unit = study.products[out.product].unit
        if process.allocation == "mass":
            mass = out.mass_t_per_unit if out.mass_t_per_unit is not None else _mass_t(1.0, unit)
            if mass is None:
                raise ValidationError(f"{where}.mass_t_per_unit", f"the mass of one {unit!r} [t]", None)
            weights[out.product] = Decimal(repr(out.amount)) * Decimal(repr(mass))
            basis[out.product] = f"{out.amount} {unit} × {mass} t/{unit}"
        elif process.allocation == "economic":
            if out.price_per_unit is None:
                raise ValidationError(f"{where}.price_per_unit", f"a price [CNY/{unit}] for economic allocation", None)
            weights[out.product] = Decimal(repr(out.amount)) * out.price_per_unit
            basis[out.product] = f"{out.amount} {unit} × {out.price_per_unit} CNY/{unit}"
        else:
            try:
                common = convert(out.amount, unit, first_unit) if unit != first_unit else out.amount
            except UnitError as exc:
                raise UnitError(f"{where}.product", f"an output in a unit convertible to {first_unit!r}", unit) from exc
            weights[out.product] = Decimal(repr(common))
            basis[out.product] = f"{common} {first_unit}"
    total = sum(weights.values(), Decimal(0))
    if total <= 0:
        raise ValidationError(
            f"process {process.id!r}.outputs", f"outputs with a positive {process.allocation} total", 0
        )
    return {pid: (float(w / total), basis[pid]) for pid, w in weights.items()}


def _allocated_terms(
    product: Product, process: Process, run_terms: list[Contribution], study: Study
) -> tuple[list[Contribution], Allocation]:
    out = next((o for o in process.outputs if o.product == product.id), None)
    if out is None:
        raise ValidationError(
            f"product {product.id!r}.process", f"a process whose outputs list {product.id!r}", process.id
        )
    share, basis = allocation_shares(process, study)[product.id]
    scale = share / out.amount
    note = (
        f"{process.allocation} allocation: share {share:.6g} of process {process.id!r} ({basis}), "
        f"÷ {out.amount} {product.unit} per run"
    )
    terms = [
        Contribution(
            stage=t.stage,
            kind=t.kind,
            ref=t.ref,
            tco2e=t.tco2e * scale,
            quantity=None if t.quantity is None else t.quantity * scale,
            quantity_unit=t.quantity_unit,
            factor=t.factor,
            factor_unit=t.factor_unit,
            formula=f"({t.formula}) × {share:.6g} ÷ {out.amount}",
            source=t.source,
            allocation=note,
        )
        for t in run_terms
    ]
    return terms, Allocation(process.id, process.allocation, share, out.amount, basis)


def _own_terms(product: Product, include_use_phase: bool) -> list[Contribution]:
    terms: list[Contribution] = []
    if product.process_tco2e_per_unit:
        terms.append(
            Contribution(
                stage="process",
                kind="process",
                ref=product.id,
                tco2e=product.process_tco2e_per_unit,
                quantity=1.0,
                quantity_unit=product.unit,
                factor=product.process_tco2e_per_unit,
                factor_unit=f"tCO2e/{product.unit}",
                formula=f"{product.process_tco2e_per_unit} tCO2e/{product.unit}",
            )
        )
    if include_use_phase and product.use_phase_tco2e_per_unit is not None:
        terms.append(
            Contribution(
                stage="use_phase",
                kind="use_phase",
                ref=product.id,
                tco2e=product.use_phase_tco2e_per_unit,
                quantity=1.0,
                quantity_unit=product.unit,
                factor=product.use_phase_tco2e_per_unit,
                factor_unit=f"tCO2e/{product.unit}",
                formula=f"{product.use_phase_tco2e_per_unit} tCO2e/{product.unit}",
            )
        )
    return terms


def _summarise(
    product: Product,
    terms: list[Contribution],
    include_use_phase: bool,
    given: bool,
    allocation: Allocation | None,
) -> ProductFootprint:
    stages = list(CRADLE_TO_GATE_STAGES) + (["use_phase"] if include_use_phase else [])
    by_stage = {stage: 0.0 for stage in stages}
    by_input: dict[str, float] = {}
    for term in terms:
        by_stage[term.stage] += term.tco2e
        if term.kind == "input":
            by_input[term.ref] = by_input.get(term.ref, 0.0) + term.tco2e
    cradle_to_gate = sum(by_stage[s] for s in CRADLE_TO_GATE_STAGES)
    return ProductFootprint(
        product=product.id,
        unit=product.unit,
        boundary="cradle-to-gate" + (" + use phase" if include_use_phase else ""),
        tco2e_per_unit=cradle_to_gate + by_stage.get("use_phase", 0.0),
        cradle_to_gate_tco2e_per_unit=cradle_to_gate,
        by_stage=by_stage,
        by_input=by_input,
        contributions=tuple(terms),
        given=given,
        allocation=allocation,
    )


def compute_footprints(
    study: Study,
    *,
    include_use_phase: bool = False,
    energy_accountant: EnergyAccountant | None = None,
) -> dict[str, ProductFootprint]:
    """The footprint of every product of ``study`` [tCO2e per unit of each product].

    Parameters
    ----------
    study
        Products and processes (see :func:`~carbonpark.footprint.parse.parse_study`).
    include_use_phase
        Add each product's ``use_phase_tco2e_per_unit`` to its own total (never to products using it).
    energy_accountant
        Accounts energy lines that carry no factor of their own (the accounting engine, given by
        the caller); without it such a line is an error.

    Returns
    -------
    dict
        Product id → :class:`ProductFootprint`, in the study's order.

    Raises
    ------
    ValidationError
        An unknown input, a cycle (named: ``a → b → a``), a missing factor, mass or price.

    References
    ----------
    ISO 14067:2018 §6.3, §6.4.6; guide §2.1(1), §2.2.
    """
    done: dict[str, ProductFootprint] = {}
    run_terms: dict[str, list[Contribution]] = {}
    for kind, ident in _topological_order(study):
        if kind == "process":
            run_terms[ident] = _process_run_terms(study.processes[ident], study, done, energy_accountant)
            continue
        product = study.products[ident]
        if product.is_given:
            value = product.footprint_tco2e_per_unit
            assert value is not None
            given_term = Contribution(
                stage="raw_materials",
                kind="given",
                ref=product.id,
                tco2e=value,
                quantity=1.0,
                quantity_unit=product.unit,
                factor=value,
                factor_unit=f"tCO2e/{product.unit}",
                formula=f"given: {value} tCO2e/{product.unit}",
                source=product.source or "given footprint",
            )
            terms = [given_term, *_own_terms(product, include_use_phase)]
            done[ident] = _summarise(product, terms, include_use_phase, True, None)
            continue
        terms = _line_terms(
            f"product {product.id!r}",
            product.inputs,
            product.energy,
            product.transport,
            study,
            done,
            energy_accountant,
        )
        allocation = None
        if product.process is not None:
            allocated, allocation = _allocated_terms(
                product, study.processes[product.process], run_terms[product.process], study
            )
            terms.extend(allocated)
        terms.extend(_own_terms(product, include_use_phase))
        done[ident] = _summarise(product, terms, include_use_phase, False, allocation)
    return {pid: done[pid] for pid in study.products}


def trace(footprints: dict[str, ProductFootprint], product_id: str) -> list[TracedContribution]:
    """Leaf terms of a product's footprint through its whole supply chain.

    Each ``input`` term is replaced by its supplier's terms scaled by the amount used, down to
    given figures, energy, process and transport terms. The sum of ``tco2e`` equals the
    product's ``tco2e_per_unit``.
    """
    leaves: list[TracedContribution] = []

    def walk(
        pid: str,
        scale: float,
        path: tuple[str, ...],
        root_stage: str | None,
        allocations: tuple[str, ...],
        cradle_to_gate_only: bool,
    ) -> None:
        for term in footprints[pid].contributions:
            if cradle_to_gate_only and term.stage == "use_phase":
                continue
            notes = (*allocations, term.allocation) if term.allocation else allocations
            stage = root_stage or term.stage
            if term.kind == "input" and term.quantity is not None:
                walk(term.ref, scale * term.quantity, (*path, term.ref), stage, notes, True)
            else:
                leaves.append(
                    TracedContribution(
                        path=path,
                        stage=stage,
                        origin_stage=term.stage,
                        kind=term.kind,
                        ref=term.ref,
                        tco2e=term.tco2e * scale,
                        source=term.source,
                        allocations=notes,
                    )
                )

    walk(product_id, 1.0, (product_id,), None, (), False)
    return leaves
