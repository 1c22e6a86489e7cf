"""Reading a footprint study from a plain document (YAML or JSON already loaded).

Shape::

    products:
      - {id: sheet, unit: t, footprint_tco2e_per_unit: 2.0, source: "supplier EPD 2024"}
      - id: part
        unit: piece
        process_tco2e_per_unit: 0.1
        energy: [{activity: electricity, amount: 12, unit: kWh, factor_tco2e_per_unit: 0.0005306}]
        inputs:
          - {product: sheet, amount: 0.5, transport: [{mode: truck, distance_km: 200,
                                                       factor_tco2e_per_tkm: 0.0001}]}
          - {product: box, amount: 1, stage: packaging}
        use_phase_tco2e_per_unit: 0.3
    processes:
      - id: cracker
        allocation: mass            # or economic, physical
        process_tco2e: 10
        outputs: [{product: a, amount: 6}, {product: b, amount: 4, unit: t}]

Errors name the field (``products[1].inputs[0].amount``), what was expected and what came.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from carbonpark.errors import DuplicateError, ValidationError
from carbonpark.footprint.model import (
    ALLOCATION_METHODS,
    EnergyLine,
    InputLine,
    Process,
    ProcessOutput,
    Product,
    TransportLeg,
)

__all__ = ["Study", "parse_study"]


@dataclass(frozen=True)
class Study:
    """Products and processes of one footprint study, keyed by id."""

    products: dict[str, Product]
    processes: dict[str, Process]


def _float(
    row: Mapping[str, Any],
    key: str,
    where: str,
    *,
    required: bool = True,
    default: float | None = None,
    minimum: float | None = 0.0,
) -> float | None:
    value = row.get(key)
    if value is None:
        if required:
            raise ValidationError(f"{where}.{key}", "a number", None)
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"{where}.{key}", "a number", value)
    if minimum is not None and value < minimum:
        raise ValidationError(f"{where}.{key}", f"a number ≥ {minimum}", value)
    return float(value)


def _req_float(row: Mapping[str, Any], key: str, where: str) -> float:
    value = _float(row, key, where)
    assert value is not None
    return value


def _text(row: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
    value = row.get(key)
    if value is None or value == "":
        if required:
            raise ValidationError(f"{where}.{key}", "a non-empty text", value)
        return None
    if not isinstance(value, str | int):
        raise ValidationError(f"{where}.{key}", "a text", value)
    return str(value)


def _mapping(row: Any, where: str, expected: str) -> Mapping[str, Any]:
    if not isinstance(row, Mapping):
        raise ValidationError(where, expected, row)
    return row


def _list(row: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = row.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValidationError(f"{where}.{key}", "a list", value)
    return value


def _leg(raw: Any, where: str, *, mass_required: bool) -> TransportLeg:
    row = _mapping(raw, where, "a transport leg {mode, distance_km, factor_tco2e_per_tkm, mass_t}")
    return TransportLeg(
        mode=_text(row, "mode", where, required=False) or "unspecified",
        distance_km=_req_float(row, "distance_km", where),
        factor_tco2e_per_tkm=_req_float(row, "factor_tco2e_per_tkm", where),
        mass_t=_float(row, "mass_t", where, required=mass_required),
        source=_text(row, "source", where, required=False),
    )


def _input(raw: Any, where: str) -> InputLine:
    row = _mapping(raw, where, "an input {product, amount}")
    stage = _text(row, "stage", where, required=False) or "raw_materials"
    if stage not in ("raw_materials", "packaging"):
        raise ValidationError(f"{where}.stage", "raw_materials or packaging", stage)
    product = _text(row, "product", where)
    assert product is not None
    return InputLine(
        product=product,
        amount=_req_float(row, "amount", where),
        unit=_text(row, "unit", where, required=False),
        stage=stage,
        transport=tuple(
            _leg(leg, f"{where}.transport[{i}]", mass_required=False)
            for i, leg in enumerate(_list(row, "transport", where))
        ),
    )


def _energy(raw: Any, where: str) -> EnergyLine:
    row = _mapping(raw, where, "an energy line {activity, amount, unit}")
    activity = _text(row, "activity", where)
    unit = _text(row, "unit", where)
    assert activity is not None and unit is not None
    return EnergyLine(
        activity=activity,
        amount=_req_float(row, "amount", where),
        unit=unit,
        factor_tco2e_per_unit=_float(row, "factor_tco2e_per_unit", where, required=False),
        source=_text(row, "source", where, required=False),
    )


def _lines(
    row: Mapping[str, Any], where: str
) -> tuple[tuple[InputLine, ...], tuple[EnergyLine, ...], tuple[TransportLeg, ...]]:
    inputs = tuple(_input(x, f"{where}.inputs[{i}]") for i, x in enumerate(_list(row, "inputs", where)))
    energy = tuple(_energy(x, f"{where}.energy[{i}]") for i, x in enumerate(_list(row, "energy", where)))
    transport = tuple(
        _leg(x, f"{where}.transport[{i}]", mass_required=True) for i, x in enumerate(_list(row, "transport", where))
    )
    return inputs, energy, transport


def _product(raw: Any, where: str) -> Product:
    row = _mapping(raw, where, "a product {id, unit, …}")
    pid = _text(row, "id", where)
    unit = _text(row, "unit", where)
    assert pid is not None and unit is not None
    inputs, energy, transport = _lines(row, where)
    given = _float(row, "footprint_tco2e_per_unit", where, required=False, minimum=None)
    process_per_unit = _float(row, "process_tco2e_per_unit", where, required=False, minimum=None)
    process = _text(row, "process", where, required=False)
    if given is not None and (inputs or energy or transport or process_per_unit is not None or process):
        raise ValidationError(
            f"{where}.footprint_tco2e_per_unit",
            "either a given footprint or inputs/energy/process emissions, not both",
            given,
        )
    return Product(
        id=pid,
        unit=unit,
        name=_text(row, "name", where, required=False),
        footprint_tco2e_per_unit=given,
        source=_text(row, "source", where, required=False),
        process_tco2e_per_unit=process_per_unit or 0.0,
        inputs=inputs,
        energy=energy,
        transport=transport,
        use_phase_tco2e_per_unit=_float(row, "use_phase_tco2e_per_unit", where, required=False),
        process=process,
    )


def _price(row: Mapping[str, Any], where: str) -> Decimal | None:
    value = row.get("price_per_unit")
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValidationError(f"{where}.price_per_unit", "a price ≥ 0 [CNY/unit]", value)
    try:
        price = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValidationError(f"{where}.price_per_unit", "a price ≥ 0 [CNY/unit]", value) from exc
    if not price.is_finite() or price < 0:
        raise ValidationError(f"{where}.price_per_unit", "a price ≥ 0 [CNY/unit]", value)
    return price


def _process(raw: Any, where: str) -> tuple[Process, list[tuple[str, str | None]]]:
    row = _mapping(raw, where, "a process {id, outputs, allocation, …}")
    pid = _text(row, "id", where)
    assert pid is not None
    allocation = _text(row, "allocation", where, required=False) or "mass"
    if allocation not in ALLOCATION_METHODS:
        raise ValidationError(f"{where}.allocation", " or ".join(ALLOCATION_METHODS), allocation)
    outputs: list[ProcessOutput] = []
    declared: list[tuple[str, str | None]] = []
    rows = _list(row, "outputs", where)
    if not rows:
        raise ValidationError(f"{where}.outputs", "a non-empty list of outputs {product, amount}", row.get("outputs"))
    for i, out_raw in enumerate(rows):
        out_where = f"{where}.outputs[{i}]"
        out = _mapping(out_raw, out_where, "an output {product, amount}")
        product = _text(out, "product", out_where)
        assert product is not None
        amount = _req_float(out, "amount", out_where)
        if amount <= 0:
            raise ValidationError(f"{out_where}.amount", "an output > 0 per run", amount)
        outputs.append(
            ProcessOutput(
                product=product,
                amount=amount,
                mass_t_per_unit=_float(out, "mass_t_per_unit", out_where, required=False),
                price_per_unit=_price(out, out_where),
            )
        )
        declared.append((product, _text(out, "unit", out_where, required=False)))
    inputs, energy, transport = _lines(row, where)
    process = Process(
        id=pid,
        outputs=tuple(outputs),
        allocation=allocation,
        inputs=inputs,
        energy=energy,
        transport=transport,
        process_tco2e=_float(row, "process_tco2e", where, required=False, default=0.0) or 0.0,
    )
    return process, declared


def parse_study(doc: Any) -> Study:
    """A :class:`Study` from ``{products: [...], processes: [...]}``.

    A product named only as a process output is declared with the output's ``unit``.

    Raises
    ------
    ValidationError
        A missing or malformed field, named by its path.
    DuplicateError
        The same product or process id twice.
    """
    doc = _mapping(doc, "document", "a mapping with products (and optionally processes)")
    product_rows = _list(doc, "products", "document")
    process_rows = _list(doc, "processes", "document")
    if not product_rows and not process_rows:
        raise ValidationError("products", "a non-empty list of products", doc.get("products"))
    products: dict[str, Product] = {}
    for i, raw in enumerate(product_rows):
        product = _product(raw, f"products[{i}]")
        if product.id in products:
            raise DuplicateError(f"products[{i}]: product id {product.id!r} appears twice")
        products[product.id] = product
    processes: dict[str, Process] = {}
    for i, raw in enumerate(process_rows):
        where = f"processes[{i}]"
        process, declared = _process(raw, where)
        if process.id in processes:
            raise DuplicateError(f"{where}: process id {process.id!r} appears twice")
        processes[process.id] = process
        for j, (pid, unit) in enumerate(declared):
            known = products.get(pid)
            if known is None:
                if unit is None:
                    raise ValidationError(
                        f"{where}.outputs[{j}].unit",
                        f"a unit (product {pid!r} is not listed in products)",
                        None,
                    )
                products[pid] = Product(id=pid, unit=unit, process=process.id)
            elif known.process not in (None, process.id):
                raise ValidationError(
                    f"{where}.outputs[{j}].product",
                    f"a product made by one process only ({known.process!r})",
                    pid,
                )
            elif known.is_given:
                raise ValidationError(f"{where}.outputs[{j}].product", "a product without a given footprint", pid)
            elif known.process is None:
                products[pid] = Product(**{**known.__dict__, "process": process.id})
    for i, raw in enumerate(product_rows):
        product = products[str(raw["id"])]
        nothing_given = raw.get("process_tco2e_per_unit") is None and not (
            product.inputs or product.energy or product.transport or product.process
        )
        if not product.is_given and nothing_given:
            raise ValidationError(
                f"products[{i}]",
                "footprint_tco2e_per_unit, or process_tco2e_per_unit / inputs / energy / process",
                dict(raw),
            )
    return Study(products=products, processes=processes)
