"""The park's entities and value types (layer L1): identifiers, codes, registry specs."""

from carbonpark.model.credit_code import check_character, validate_credit_code
from carbonpark.model.entities import (
    BomLineSpec,
    CalibrationSpec,
    CarrierSpec,
    DeviceSpec,
    EnterpriseSpec,
    MaterialSpec,
    MeterSpec,
    ParkSpec,
    ProductSpec,
    SiteSpec,
    SourceSpec,
    StatisticSpec,
    validate_spec,
)
from carbonpark.model.identifiers import TYPE_TOKENS, Handle, format_handle, is_handle, parse_handle
from carbonpark.model.industry import normalise_industry_code

__all__ = [
    "TYPE_TOKENS",
    "BomLineSpec",
    "CalibrationSpec",
    "CarrierSpec",
    "DeviceSpec",
    "EnterpriseSpec",
    "Handle",
    "MaterialSpec",
    "MeterSpec",
    "ParkSpec",
    "ProductSpec",
    "SiteSpec",
    "SourceSpec",
    "StatisticSpec",
    "check_character",
    "format_handle",
    "is_handle",
    "normalise_industry_code",
    "parse_handle",
    "validate_credit_code",
    "validate_spec",
]
