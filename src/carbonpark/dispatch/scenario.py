"""Dispatch scenario files: horizon, loads, assets and objective, validated with pydantic.

A scenario is read from YAML (or a mapping), every asset entry is validated by the
configuration model of its ``type`` (built-ins below, third-party types through the
``carbonpark.dispatch_assets`` entry-point group), and every per-step series is
checked to have one value or exactly ``horizon.steps`` values. A bad field raises
:class:`carbonpark.errors.ValidationError` whose ``field`` is the dotted path of the
field (``assets.1.energy_kwh``), with what was expected and what came.

Units: power [kW], energy [kWh], money [CNY], carbon [kgCO2] per kWh, carbon price
[CNY/tCO2e].

References
----------
The guide §4.6 (综合能源调度技术: 横向多种能源互补、纵向源网荷储协调); SPEC.md C10.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from carbonpark.errors import ValidationError

__all__ = [
    "CARRIERS",
    "AbsorptionChillerAsset",
    "AssetConfig",
    "BatteryAsset",
    "ChpAsset",
    "ElectricBoilerAsset",
    "ElectricChillerAsset",
    "FlexibleLoadAsset",
    "GasAsset",
    "GasBoilerAsset",
    "GenericAsset",
    "GridAsset",
    "HeatPumpAsset",
    "Horizon",
    "Loads",
    "PvAsset",
    "PvIrradiance",
    "Scenario",
    "ShiftWindow",
    "StorageAsset",
    "ThermalStorageAsset",
    "WeightedObjective",
    "WindAsset",
    "load_scenario",
    "parse_scenario",
]

#: The energy carriers balanced in every step.
CARRIERS: tuple[str, ...] = ("electricity", "heat", "cooling", "gas")

#: One number for every step, or one number per step.
Series = float | list[float]

_NAME_PATTERN = r"^[^\s\-]+$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Horizon(_Strict):
    """The time steps of a dispatch run.

    Attributes
    ----------
    start
        Park-local start of the first step (naive timestamp).
    steps
        Number of steps (24–96 for a day ahead, 8,760 for a year of hours).
    step_hours
        Length of one step [h].
    """

    start: datetime = datetime(2025, 1, 1)
    steps: int = Field(ge=1, le=200_000)
    step_hours: float = Field(default=1.0, gt=0, le=24)

    def timestamps(self) -> list[datetime]:
        """Park-local start of every step."""
        return [self.start + timedelta(hours=self.step_hours * k) for k in range(self.steps)]


class Loads(_Strict):
    """Fixed demand per carrier [kW], one number or one per step; a missing carrier has none."""

    electricity: Series | None = None
    heat: Series | None = None
    cooling: Series | None = None
    gas: Series | None = None


class WeightedObjective(_Strict):
    """``cost_weight × cost [CNY] + carbon_price_per_t [CNY/tCO2e] × emissions [tCO2e]``."""

    cost_weight: float = Field(default=1.0, ge=0)
    carbon_price_per_t: float = Field(ge=0)


class AssetConfig(_Strict):
    """Fields every asset has: its ``type`` (a registered asset type) and a unique ``name``.

    The name must not contain a dash or white space: variables and constraints are
    named ``"{name}-{quantity}"``.
    """

    type: str
    name: str = Field(pattern=_NAME_PATTERN, min_length=1, max_length=64)


class GenericAsset(AssetConfig):
    """Configuration of a third-party asset type that brings no pydantic model of its own."""

    model_config = ConfigDict(extra="allow", frozen=True)


class GridAsset(AssetConfig):
    """Connection to the public grid (electricity import and export).

    Attributes
    ----------
    import_max_kw, export_max_kw
        Limits [kW]; ``None`` for the import means no limit, the export defaults to 0.
    import_price, export_price
        Time-of-use prices [CNY/kWh], one number or one per step.
    carbon_kg_per_kwh
        Grid emission factor [kgCO2/kWh] of imported electricity; exports earn no credit.
    demand_charge_per_kw
        Capacity (demand) charge [CNY/kW] on the highest import of the horizon.
    peak_import_floor_kw
        Peak import already reached in the billing period [kW] (rolling horizon); only
        an increase above it costs.
    """

    type: Literal["grid"] = "grid"
    import_max_kw: float | None = Field(default=None, ge=0)
    export_max_kw: float | None = Field(default=0.0, ge=0)
    import_price: Series
    export_price: Series = 0.0
    carbon_kg_per_kwh: Series
    demand_charge_per_kw: float | None = Field(default=None, ge=0)
    peak_import_floor_kw: float = Field(default=0.0, ge=0)


class _Renewable(AssetConfig):
    capacity_kw: float = Field(ge=0)
    profile: Series

    @model_validator(mode="after")
    def _profile_per_unit(self) -> _Renewable:
        if self.profile is None:
            return self
        values = np.atleast_1d(np.asarray(self.profile, dtype=float))
        if np.any(values < 0) or np.any(values > 1.0 + 1e-9):
            raise ValueError("profile must hold per-unit values between 0 and 1")
        return self


class PvIrradiance(_Strict):
    """Weather and geometry from which pvlib computes a PV profile (:mod:`carbonpark.dispatch.pv`).

    Attributes
    ----------
    ghi_w_m2
        Global horizontal irradiance per step [W/m²].
    temp_air_c
        Air temperature [°C], one number or one per step.
    latitude, longitude
        Site [°].
    tilt_deg, azimuth_deg
        Panel tilt and azimuth (180 = south) [°].
    timezone
        IANA zone of ``horizon.start``.
    """

    ghi_w_m2: list[float]
    temp_air_c: Series = 25.0
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    tilt_deg: float = Field(default=25.0, ge=0, le=90)
    azimuth_deg: float = Field(default=180.0, ge=0, le=360)
    timezone: str = "Asia/Shanghai"


class PvAsset(_Renewable):
    """Photovoltaic plant: output ≤ ``capacity_kw × profile`` [kW]; the rest is curtailed.

    Give ``profile`` (per unit per step) or ``irradiance`` (pvlib computes the profile).
    """

    type: Literal["pv"] = "pv"
    profile: Series | None = None  # type: ignore[assignment]
    irradiance: PvIrradiance | None = None

    @model_validator(mode="after")
    def _one_source(self) -> PvAsset:
        if (self.profile is None) == (self.irradiance is None):
            raise ValueError("give either profile (per unit per step) or irradiance (for pvlib), not both or neither")
        return self


class WindAsset(_Renewable):
    """Wind turbines: output ≤ ``capacity_kw × profile`` [kW]; the rest is curtailed."""

    type: Literal["wind"] = "wind"


class StorageAsset(AssetConfig):
    """Fields shared by batteries and thermal stores.

    Attributes
    ----------
    energy_kwh
        Usable capacity [kWh].
    power_kw
        Limit on the charge drawn from and the discharge delivered to the bus [kW].
    charge_efficiency, discharge_efficiency
        One-way efficiencies (fractions).
    soc_initial, soc_min, soc_max
        State of charge as fractions of ``energy_kwh``.
    soc_end_min
        Lowest state at the end of the horizon (fraction); ``None`` means ``soc_initial``
        (the end state is at least the initial state).
    self_discharge_per_hour
        Fraction of the stored energy lost per hour.
    """

    energy_kwh: float = Field(gt=0)
    power_kw: float = Field(ge=0)
    charge_efficiency: float = Field(default=1.0, gt=0, le=1)
    discharge_efficiency: float = Field(default=1.0, gt=0, le=1)
    soc_initial: float = Field(default=0.0, ge=0, le=1)
    soc_min: float = Field(default=0.0, ge=0, le=1)
    soc_max: float = Field(default=1.0, ge=0, le=1)
    soc_end_min: float | None = Field(default=None, ge=0, le=1)
    self_discharge_per_hour: float = Field(default=0.0, ge=0, lt=1)

    @model_validator(mode="after")
    def _soc_order(self) -> StorageAsset:
        if not self.soc_min <= self.soc_initial <= self.soc_max:
            raise ValueError("soc_min ≤ soc_initial ≤ soc_max must hold")
        if self.soc_end_min is not None and not self.soc_end_min <= self.soc_max:
            raise ValueError("soc_end_min ≤ soc_max must hold")
        return self

    @property
    def end_soc_fraction(self) -> float:
        """The end-state floor as a fraction (``soc_end_min`` or ``soc_initial``)."""
        return self.soc_initial if self.soc_end_min is None else max(self.soc_end_min, self.soc_min)


class BatteryAsset(StorageAsset):
    """Electric battery on the electricity bus."""

    type: Literal["battery"] = "battery"


class ThermalStorageAsset(StorageAsset):
    """Hot- or cold-water tank on the heat or cooling bus."""

    type: Literal["thermal_storage"] = "thermal_storage"
    carrier: Literal["heat", "cooling"] = "heat"


class _MinLoad(AssetConfig):
    min_load: float | None = Field(default=None, gt=0, le=1)


class GasBoilerAsset(_MinLoad):
    """Gas boiler: ``heat = efficiency × fuel``; ``capacity_kw`` is the heat output [kW]."""

    type: Literal["gas_boiler"] = "gas_boiler"
    capacity_kw: float = Field(ge=0)
    efficiency: float = Field(default=0.9, gt=0, le=1.1)


class ChpAsset(_MinLoad):
    """Combined heat and power unit on gas.

    ``electric = electric_efficiency × fuel`` and ``heat = thermal_efficiency × fuel``;
    ``electric_capacity_kw`` bounds the electric output [kW]; ``min_load`` (fraction of
    it) makes the model a MILP with on/off decisions.
    """

    type: Literal["chp"] = "chp"
    electric_capacity_kw: float = Field(ge=0)
    electric_efficiency: float = Field(gt=0, le=1)
    thermal_efficiency: float = Field(gt=0, le=1)

    @model_validator(mode="after")
    def _first_law(self) -> ChpAsset:
        if self.electric_efficiency + self.thermal_efficiency > 1.1:
            raise ValueError("electric_efficiency + thermal_efficiency must not exceed 1.1")
        return self


class HeatPumpAsset(AssetConfig):
    """Heat pump: ``heat = cop × electric``; ``capacity_kw`` is the rated heat output [kW]."""

    type: Literal["heat_pump"] = "heat_pump"
    capacity_kw: float = Field(ge=0)
    cop: Series


class ElectricBoilerAsset(AssetConfig):
    """Electric boiler: ``heat = efficiency × electric``; ``capacity_kw`` is the heat output [kW]."""

    type: Literal["electric_boiler"] = "electric_boiler"
    capacity_kw: float = Field(ge=0)
    efficiency: float = Field(default=0.99, gt=0, le=1)


class ElectricChillerAsset(AssetConfig):
    """Compression chiller: ``cooling = cop × electric``; ``capacity_kw`` is the cooling output [kW]."""

    type: Literal["electric_chiller"] = "electric_chiller"
    capacity_kw: float = Field(ge=0)
    cop: Series


class AbsorptionChillerAsset(AssetConfig):
    """Absorption chiller driven by heat: ``cooling = cop × heat``; ``capacity_kw`` is the cooling output."""

    type: Literal["absorption_chiller"] = "absorption_chiller"
    capacity_kw: float = Field(ge=0)
    cop: Series = 0.7


class ShiftWindow(_Strict):
    """Steps ``start`` (inclusive) to ``end`` (exclusive) within which the energy may move."""

    start: int = Field(ge=0)
    end: int = Field(ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> ShiftWindow:
        if self.end <= self.start:
            raise ValueError("end must be greater than start")
        return self


class FlexibleLoadAsset(AssetConfig):
    """A load whose energy may move within windows and may be curtailed at a cost.

    Attributes
    ----------
    carrier
        Bus the load draws from.
    profile
        Nominal demand [kW] per step.
    max_kw
        Highest consumption in any step [kW] (``None``: the profile's peak).
    windows
        Step windows within which the energy is conserved but may move; outside every
        window the load follows its profile.
    curtail_cost_per_kwh
        Price [CNY/kWh] of energy not served; ``None`` means the load cannot be curtailed.
    curtail_max_fraction
        Largest share of the nominal demand of a step that may be curtailed.
    """

    type: Literal["flexible_load"] = "flexible_load"
    carrier: Literal["electricity", "heat", "cooling"] = "electricity"
    profile: Series
    max_kw: float | None = Field(default=None, ge=0)
    windows: list[ShiftWindow] = Field(default_factory=list)
    curtail_cost_per_kwh: float | None = Field(default=None, ge=0)
    curtail_max_fraction: float = Field(default=1.0, ge=0, le=1)


class GasAsset(AssetConfig):
    """Natural-gas supply: price [CNY/kWh of fuel, LHV] and carbon [kgCO2/kWh]."""

    type: Literal["gas"] = "gas"
    price_per_kwh: Series
    carbon_kg_per_kwh: Series
    max_kw: float | None = Field(default=None, ge=0)


class Scenario(_Strict):
    """A dispatch scenario: horizon, loads, assets and objective (see ``docs/dispatch.md``)."""

    horizon: Horizon
    loads: Loads = Field(default_factory=Loads)
    assets: list[AssetConfig]
    objective: Literal["cost", "emissions"] | WeightedObjective = "cost"

    def series(self, value: Series | None) -> np.ndarray:
        """``value`` as one float per step (zeros for ``None``)."""
        steps = self.horizon.steps
        if value is None:
            return np.zeros(steps)
        array = np.asarray(value, dtype=float)
        return np.full(steps, float(array)) if array.ndim == 0 else array.astype(float)

    def load(self, carrier: str) -> np.ndarray:
        """Fixed demand of ``carrier`` per step [kW]."""
        return self.series(getattr(self.loads, carrier))

    def asset(self, name: str) -> AssetConfig:
        """The asset called ``name``."""
        for asset in self.assets:
            if asset.name == name:
                return asset
        raise ValidationError("assets", f"an asset named {name!r}", [a.name for a in self.assets])


#: Configuration models of the built-in asset types.
BUILTIN_CONFIGS: dict[str, type[AssetConfig]] = {
    "grid": GridAsset,
    "pv": PvAsset,
    "wind": WindAsset,
    "battery": BatteryAsset,
    "thermal_storage": ThermalStorageAsset,
    "gas_boiler": GasBoilerAsset,
    "chp": ChpAsset,
    "heat_pump": HeatPumpAsset,
    "electric_boiler": ElectricBoilerAsset,
    "electric_chiller": ElectricChillerAsset,
    "absorption_chiller": AbsorptionChillerAsset,
    "flexible_load": FlexibleLoadAsset,
    "gas": GasAsset,
}
__all__ += ["BUILTIN_CONFIGS"]

_FUEL_USERS = ("gas_boiler", "chp")


def _is_union_tag(part: int | str) -> bool:
    """Pydantic puts the tried member of a union in the location (``literal[...]``, ``WeightedObjective``)."""
    return isinstance(part, str) and ("[" in part or part[:1].isupper())


def _dotted(loc: Sequence[int | str], prefix: str = "") -> str:
    parts = [prefix] if prefix else []
    parts.extend(str(p) for p in loc if not _is_union_tag(p))
    return ".".join(parts) or "scenario"


def _raise_pydantic(exc: pydantic.ValidationError, prefix: str = "", known: Sequence[str] = ()) -> None:
    """Turn the first pydantic error into a carbonpark ValidationError with a dotted path."""
    errors = exc.errors()
    # of the members a union tried, report the one that got deepest into the input
    first = max(errors, key=lambda e: len(_dotted(e["loc"], prefix).split(".")))
    field = _dotted(first["loc"], prefix)
    problems = {_dotted(e["loc"], prefix) for e in errors} - {
        field.rsplit(".", k)[0] for k in range(1, field.count(".") + 1)
    }
    if field == "objective":
        expected = "cost, emissions or {cost_weight, carbon_price_per_t}"
    elif first["type"] == "extra_forbidden":
        expected = f"no field of that name (known: {', '.join(known)})" if known else "no such field"
    elif first["type"] == "missing":
        expected = "a value (the field is required)"
    else:
        expected = first["msg"].removeprefix("Value error, ").removeprefix("Input should be ")
    more = len(problems) - 1
    if more:
        expected += f" ({more} more problem{'s' if more > 1 else ''} in the file)"
    got = first.get("input") if first["type"] != "missing" else None
    raise ValidationError(field, expected, got) from None


def _config_model(type_name: str, index: int) -> type[AssetConfig]:
    if type_name in BUILTIN_CONFIGS:
        return BUILTIN_CONFIGS[type_name]
    from carbonpark.dispatch.registry import asset_types

    registry = asset_types()
    if type_name not in registry:
        raise ValidationError(f"assets.{index}.type", f"one of {', '.join(sorted(registry))}", type_name)
    model = getattr(registry[type_name], "config_model", None)
    return model if isinstance(model, type) and issubclass(model, AssetConfig) else GenericAsset


def _parse_asset(raw: Any, index: int) -> AssetConfig:
    if not isinstance(raw, Mapping):
        raise ValidationError(f"assets.{index}", "a mapping with type and name", raw)
    type_name = raw.get("type")
    if not isinstance(type_name, str):
        raise ValidationError(f"assets.{index}.type", "an asset type name", type_name)
    model = _config_model(type_name, index)
    try:
        return model.model_validate(dict(raw))
    except pydantic.ValidationError as exc:
        _raise_pydantic(exc, f"assets.{index}", sorted(model.model_fields))
    raise AssertionError("unreachable")  # pragma: no cover


def _check_lengths(value: Any, field: str, steps: int) -> None:
    if isinstance(value, list) and value and not isinstance(value[0], BaseModel) and len(value) != steps:
        raise ValidationError(field, f"one number or {steps} numbers (horizon.steps)", f"{len(value)} numbers")


def _check_finite(value: Any, field: str) -> None:
    """Numbers enter the model as bounds, coefficients and right-hand sides: no NaN or infinity."""
    if isinstance(value, bool) or not isinstance(value, float | int | list) or value == []:
        return
    if isinstance(value, list) and not all(isinstance(v, float | int) and not isinstance(v, bool) for v in value):
        return
    array = np.asarray(value, dtype=float)
    bad = np.flatnonzero(~np.isfinite(np.atleast_1d(array)))
    if bad.size:
        where = "" if array.ndim == 0 else f" at step {int(bad[0])}"
        raise ValidationError(
            field, "finite numbers (leave a limit out or null for no limit)", f"{array.flat[bad[0]]}{where}"
        )


def _check_series(scenario: Scenario) -> None:
    steps = scenario.horizon.steps
    for carrier in CARRIERS:
        _check_lengths(getattr(scenario.loads, carrier), f"loads.{carrier}", steps)
        _check_finite(getattr(scenario.loads, carrier), f"loads.{carrier}")
    for index, asset in enumerate(scenario.assets):
        for key in type(asset).model_fields:
            _check_lengths(getattr(asset, key), f"assets.{index}.{key}", steps)
            _check_finite(getattr(asset, key), f"assets.{index}.{key}")
        if isinstance(asset, FlexibleLoadAsset):
            for w, window in enumerate(asset.windows):
                if window.end > steps:
                    raise ValidationError(f"assets.{index}.windows.{w}.end", f"at most {steps}", window.end)


def _check_names(scenario: Scenario) -> None:
    seen: set[str] = set()
    for index, asset in enumerate(scenario.assets):
        if asset.name in seen or asset.name == "objective":
            raise ValidationError(f"assets.{index}.name", "a name used by no other asset (nor 'objective')", asset.name)
        seen.add(asset.name)


def _check_fuel_supply(scenario: Scenario) -> None:
    types = [a.type for a in scenario.assets]
    for index, asset in enumerate(scenario.assets):
        if asset.type in _FUEL_USERS and "gas" not in types:
            raise ValidationError(
                f"assets.{index}",
                f"an asset of type gas to supply {asset.type} {asset.name!r} with fuel",
                sorted(set(types)),
            )


def parse_scenario(document: Mapping[str, Any]) -> Scenario:
    """Validate a scenario given as a mapping (as read from YAML).

    Raises
    ------
    ValidationError
        With the dotted path of the first bad field, what was expected and what came.
    """
    if not isinstance(document, Mapping):
        raise ValidationError("scenario", "a mapping with horizon, loads, assets and objective", document)
    raw_assets = document.get("assets")
    if not isinstance(raw_assets, list) or not raw_assets:
        raise ValidationError("assets", "a non-empty list of assets", raw_assets)
    assets = [_parse_asset(raw, i) for i, raw in enumerate(raw_assets)]
    rest = {k: v for k, v in document.items() if k != "assets"}
    try:
        scenario = Scenario.model_validate({**rest, "assets": []})
    except pydantic.ValidationError as exc:
        _raise_pydantic(exc, "", sorted(Scenario.model_fields))
    scenario = scenario.model_copy(update={"assets": assets})
    _check_names(scenario)
    _check_series(scenario)
    _check_fuel_supply(scenario)
    return _pv_from_irradiance(scenario)


def _pv_from_irradiance(scenario: Scenario) -> Scenario:
    """Fill the profile of every PV asset given ``irradiance`` (pvlib)."""
    if not any(isinstance(a, PvAsset) and a.irradiance is not None for a in scenario.assets):
        return scenario
    from carbonpark.dispatch.pv import pv_profile_from_irradiance

    assets: list[AssetConfig] = []
    for index, asset in enumerate(scenario.assets):
        if isinstance(asset, PvAsset) and asset.irradiance is not None:
            irr = asset.irradiance
            _check_lengths(irr.ghi_w_m2, f"assets.{index}.irradiance.ghi_w_m2", scenario.horizon.steps)
            _check_lengths(irr.temp_air_c, f"assets.{index}.irradiance.temp_air_c", scenario.horizon.steps)
            profile = pv_profile_from_irradiance(
                scenario.horizon.timestamps(),
                scenario.horizon.step_hours,
                np.asarray(irr.ghi_w_m2, dtype=float),
                irr.latitude,
                irr.longitude,
                irr.tilt_deg,
                irr.azimuth_deg,
                scenario.series(irr.temp_air_c),
                irr.timezone,
            )
            asset = asset.model_copy(update={"profile": profile.round(6).tolist()})
        assets.append(asset)
    return scenario.model_copy(update={"assets": assets})


def load_scenario(source: str | Path) -> Scenario:
    """Read and validate a scenario YAML file.

    Raises
    ------
    ValidationError
        If the file is not YAML or a field is bad (the field's dotted path is named).
    """
    path = Path(source)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
        raise ValidationError(where, "valid YAML", str(exc).splitlines()[0]) from None
    return parse_scenario(document)
