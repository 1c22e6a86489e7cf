"""Registry entities of a park (SPEC C1, guide §3.2.2): what may be created, validated.

These are input specifications: plain pydantic models whose validators check codes
(GB 32100 credit code, GB/T 4754 industry code) and units (a meter's unit must measure
its quantity). The store turns them into rows with a Handle identifier.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal, TypeVar

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from carbonpark.errors import ValidationError
from carbonpark.model.credit_code import validate_credit_code
from carbonpark.model.industry import normalise_industry_code
from carbonpark.units import QUANTITIES, check_unit

__all__ = [
    "BOUNDARY_APPROACHES",
    "GASES",
    "METHODS",
    "STAT_METRICS",
    "BomLineSpec",
    "CalibrationSpec",
    "CarrierSpec",
    "DeviceSpec",
    "EnterpriseSpec",
    "MaterialSpec",
    "MeterSpec",
    "ParkSpec",
    "ProductSpec",
    "SiteSpec",
    "SourceSpec",
    "StatisticSpec",
    "validate_spec",
]

GASES = ("CO2", "CH4", "N2O", "HFCs", "PFCs", "SF6", "NF3")
METHODS = ("emission_factor", "mass_balance", "measured")
BOUNDARY_APPROACHES = ("operational_control", "financial_control", "equity_share")
#: Periodic enterprise statistics: metric → the quantity its unit must measure.
STAT_METRICS: dict[str, str] = {
    "output": "product",  # unit of the product (t, piece, kWh …); metric written as output:<product code>
    "gross_output_value": "money",  # 工业总产值
    "value_added": "money",  # 工业增加值
    "revenue": "money",
    "floor_area": "area",
    "employees": "count",
    "energy_tce": "energy",
}
MONEY_UNITS: dict[str, float] = {
    "CNY": 1.0,
    "元": 1.0,
    "kCNY": 1e3,
    "万元": 1e4,
    "亿元": 1e8,
    "10^4 CNY": 1e4,
}
AREA_UNITS: dict[str, float] = {"m2": 1.0, "m²": 1.0, "平方米": 1.0, "万平方米": 1e4, "ha": 1e4}
COUNT_UNITS: dict[str, float] = {"persons": 1.0, "人": 1.0, "people": 1.0}

Spec = TypeVar("Spec", bound=BaseModel)


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ParkSpec(_Spec):
    """An industrial park."""

    name: str = Field(min_length=1)
    name_en: str = ""
    handle_prefix: str = Field(default="1234", pattern=r"^[0-9A-Za-z.]+$")
    timezone: str = "Asia/Shanghai"
    region: str = ""  # province / city, for regional grid factors and comparisons


class EnterpriseSpec(_Spec):
    """An enterprise of the park, with its organisational-boundary data (ISO 14064-1 5.1)."""

    name: str = Field(min_length=1)
    name_en: str = ""
    credit_code: str
    industry_code: str
    key_emitter: bool = False
    boundary_approach: Literal["operational_control", "financial_control", "equity_share"] = (
        "operational_control"
    )
    equity_share: float = Field(default=1.0, gt=0, le=1)

    @field_validator("credit_code")
    @classmethod
    def _credit(cls, v: str) -> str:
        return validate_credit_code(v)

    @field_validator("industry_code")
    @classmethod
    def _industry(cls, v: str) -> str:
        return normalise_industry_code(v)


class SiteSpec(_Spec):
    """A site, building or workshop; ``parent`` makes a workshop part of a site."""

    name: str = Field(min_length=1)
    kind: Literal["site", "building", "workshop", "public_facility"] = "site"
    enterprise: str | None = None  # id or handle; None for park-level sites
    parent: str | None = None


class DeviceSpec(_Spec):
    """A device (boiler, compressor, PV inverter, battery, chiller …)."""

    name: str = Field(min_length=1)
    kind: str = Field(min_length=1)
    site: str | None = None
    enterprise: str | None = None
    rated_power_kw: float | None = Field(default=None, ge=0)


class CarrierSpec(_Spec):
    """An energy carrier or metered resource (electricity, natural gas, steam, diesel, coal, water …)."""

    code: str = Field(pattern=r"^[a-z_]+$")
    name: str
    name_en: str
    quantity: str
    unit: str

    @model_validator(mode="after")
    def _unit_fits(self) -> CarrierSpec:
        check_unit(self.quantity, self.unit)
        return self


class MeterSpec(_Spec):
    """A meter (计量器具): what it measures, in which unit, how, and where it hangs."""

    code: str = Field(min_length=1, max_length=64)
    name: str = ""
    quantity: str
    unit: str
    carrier: str | None = None  # carrier code
    reading_kind: Literal["interval", "cumulative", "instantaneous"] = "interval"
    interval_minutes: int = Field(default=60, gt=0, le=1440)
    enterprise: str | None = None
    site: str | None = None
    device: str | None = None
    parent: str | None = None  # parent meter (id, handle or code) for sub-metering
    accuracy_class: str = Field(default="1.0", pattern=r"^\d+(\.\d+)?[A-Z]?$")
    rollover: float | None = Field(default=None, gt=0)  # counter maximum of a cumulative register

    @field_validator("quantity")
    @classmethod
    def _quantity(cls, v: str) -> str:
        if v not in QUANTITIES:
            raise ValueError(f"one of {', '.join(QUANTITIES)}")
        return v

    @model_validator(mode="after")
    def _unit_fits(self) -> MeterSpec:
        check_unit(self.quantity, self.unit)
        return self


class CalibrationSpec(_Spec):
    """A calibration (检定/校准) record of a meter, with the date the next one is due."""

    meter: str
    calibrated_on: date
    due_on: date
    certificate: str = ""
    agency: str = ""
    passed: bool = True

    @model_validator(mode="after")
    def _due_after(self) -> CalibrationSpec:
        if self.due_on <= self.calibrated_on:
            raise ValidationError(
                "due_on", f"a date after calibrated_on {self.calibrated_on}", str(self.due_on)
            )
        return self


class SourceSpec(_Spec):
    """An emission source: which enterprise, which activity, which gas, which method, which scope."""

    name: str = Field(min_length=1)
    enterprise: str | None = None
    activity: str = Field(min_length=1)  # e.g. natural_gas, purchased_electricity, diesel, process_cement
    gas: Literal["CO2", "CH4", "N2O", "HFCs", "PFCs", "SF6", "NF3"] = "CO2"
    method: Literal["emission_factor", "mass_balance", "measured"] = "emission_factor"
    scope: int = Field(ge=1, le=3)
    category: int = Field(default=1, ge=1, le=6)  # ISO 14064-1:2018 clause 5.2.4 categories 1–6
    meter: str | None = None


class MaterialSpec(_Spec):
    """A material bought or used (steel sheet, resin, limestone …)."""

    code: str = Field(min_length=1)
    name: str
    unit: str
    carbon_content_t_per_t: float | None = Field(default=None, ge=0, le=1)


class ProductSpec(_Spec):
    """A product made in the park."""

    code: str = Field(min_length=1)
    name: str
    unit: str
    enterprise: str | None = None


class BomLineSpec(_Spec):
    """One line of a bill of materials: ``amount`` of a material or product per unit of ``product``."""

    product: str
    material: str | None = None
    input_product: str | None = None
    amount: float = Field(gt=0)

    @model_validator(mode="after")
    def _one_input(self) -> BomLineSpec:
        if (self.material is None) == (self.input_product is None):
            raise ValidationError("material", "exactly one of material or input_product", self.material)
        return self


class StatisticSpec(_Spec):
    """A periodic enterprise statistic: the denominators of intensities and indicators."""

    enterprise: str
    period: str = Field(pattern=r"^\d{4}(-(0[1-9]|1[0-2]))?$")
    metric: str
    value: float
    unit: str
    source: str = ""
    evidence: str = ""

    @model_validator(mode="after")
    def _metric_and_unit(self) -> StatisticSpec:
        base = self.metric.split(":", 1)[0]
        if base not in STAT_METRICS or (base == "output") != (":" in self.metric):
            raise ValidationError(
                "metric",
                f"one of {', '.join(m for m in STAT_METRICS if m != 'output')} or output:<product code>",
                self.metric,
            )
        kind = STAT_METRICS[base]
        allowed = {"money": MONEY_UNITS, "area": AREA_UNITS, "count": COUNT_UNITS}.get(kind)
        if allowed is not None and self.unit not in allowed:
            raise ValidationError("unit", f"a {kind} unit ({', '.join(allowed)})", self.unit)
        if kind == "energy":
            check_unit("energy", self.unit)
        if self.value < 0:
            raise ValidationError("value", "a number ≥ 0", self.value)
        return self


def validate_spec(spec_type: type[Spec], data: dict[str, Any], where: str = "") -> Spec:
    """Build ``spec_type`` from ``data``, turning pydantic's errors into one :class:`ValidationError`.

    ``where`` (e.g. ``"line 7"``) prefixes the field name in the message.
    """
    try:
        return spec_type.model_validate(data)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        cause = first.get("ctx", {}).get("error")
        if isinstance(cause, ValidationError):
            raise ValidationError(
                f"{where}, {cause.field}" if where else cause.field, cause.expected, cause.got
            ) from exc
        loc = ".".join(str(p) for p in first["loc"]) or "record"
        field = f"{where}, {loc}" if where else loc
        raise ValidationError(field, first["msg"].removeprefix("Value error, "), first.get("input")) from exc
