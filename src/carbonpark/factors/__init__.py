"""carbonpark.factors: the packaged, dated, cited factor library (SPEC C6, §4 reference data).

References
----------
The guide §4.2 (GB/T 32151, GB/T 2589); see :mod:`carbonpark.factors.library`.
"""

from carbonpark.factors.library import (
    DEFAULT_FACTOR_SET,
    DEFAULT_GWP_SET,
    FACTOR_COLUMNS,
    Activity,
    FactorLibrary,
    FactorRow,
    FactorSetInfo,
    default_library,
    load_user_set,
    read_factor_csv,
)

__all__ = [
    "DEFAULT_FACTOR_SET",
    "DEFAULT_GWP_SET",
    "FACTOR_COLUMNS",
    "Activity",
    "FactorLibrary",
    "FactorRow",
    "FactorSetInfo",
    "default_library",
    "load_user_set",
    "read_factor_csv",
]
