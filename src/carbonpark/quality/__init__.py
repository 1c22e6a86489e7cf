"""Metrology and data quality (SPEC C4, the guide §4.1): value checks, quality flags,
calibration due dates and online calibration, meter coverage and accuracy against GB 17167.

Pure engine: numpy and pandas, no database. The service ``carbonpark.services.quality``
reads the stored readings, runs these checks and writes the flags back.
"""

from carbonpark.quality.calibration import (
    CalibrationRecord,
    OnlineCalibration,
    calibration_due,
    class_meets,
    mpe_percent,
    online_calibration,
)
from carbonpark.quality.checks import (
    Finding,
    MeterReport,
    MeterSeries,
    balance,
    check_meter,
    cumulative_steps,
    find_gaps,
    find_skew,
    find_spikes,
    find_stuck,
)
from carbonpark.quality.flags import (
    ESTIMATE_MASK,
    ESTIMATED_FLAGS,
    FLAG_LABELS,
    FLAGGED_MASK,
    INFO_MASK,
    SUSPECT_MASK,
    QualityFlag,
    QualityShare,
    flag_names,
    parse_flags,
    quality_share,
)
from carbonpark.quality.metrology import (
    CoverageItem,
    MeterClass,
    accuracy_check,
    coverage_check,
    electricity_category,
    equipping_rates,
    required_class,
)

__all__ = [
    "ESTIMATED_FLAGS",
    "ESTIMATE_MASK",
    "FLAGGED_MASK",
    "FLAG_LABELS",
    "INFO_MASK",
    "SUSPECT_MASK",
    "CalibrationRecord",
    "CoverageItem",
    "Finding",
    "MeterClass",
    "MeterReport",
    "MeterSeries",
    "OnlineCalibration",
    "QualityFlag",
    "QualityShare",
    "accuracy_check",
    "balance",
    "calibration_due",
    "check_meter",
    "class_meets",
    "coverage_check",
    "cumulative_steps",
    "electricity_category",
    "equipping_rates",
    "find_gaps",
    "find_skew",
    "find_spikes",
    "find_stuck",
    "flag_names",
    "mpe_percent",
    "online_calibration",
    "parse_flags",
    "quality_share",
    "required_class",
]
