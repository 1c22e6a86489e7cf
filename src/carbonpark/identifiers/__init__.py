"""carbonpark.identifiers: the identifier registry's pure part (标识解析).

Typed values (:mod:`~carbonpark.identifiers.values`), the Handle REST answer with response
codes and value-level access (:mod:`~carbonpark.identifiers.rest`), and the figures of the
evaluation indicators 15–18 (:mod:`~carbonpark.identifiers.stats`). No database, no network:
``services.identifiers`` stores and counts, ``api.routers.handles`` serves.

References
----------
Guide §2.1(1), §3.2.2(2)1; Handle.Net Technical Manual v9; SPEC.md C2; issue 7.
"""

from carbonpark.identifiers.rest import (
    Answer,
    Reader,
    Record,
    ResponseCode,
    StoredValue,
    admins_of,
    answer,
    can_read,
    can_write,
    is_local_prefix,
    iso_utc,
    malformed,
    not_found,
    split_handle,
    value_json,
)
from carbonpark.identifiers.stats import VIRTUAL_KINDS, IdentifierStatistics
from carbonpark.identifiers.values import (
    ADMIN_PERMISSIONS,
    CARBON_TYPES,
    DEFAULT_TTL_S,
    VALUE_TYPES,
    ValueType,
    admin_permits,
    decode_data,
    is_public_by_default,
    validate_value,
)

__all__ = [
    "ADMIN_PERMISSIONS",
    "CARBON_TYPES",
    "DEFAULT_TTL_S",
    "VALUE_TYPES",
    "VIRTUAL_KINDS",
    "Answer",
    "IdentifierStatistics",
    "Reader",
    "Record",
    "ResponseCode",
    "StoredValue",
    "ValueType",
    "admin_permits",
    "admins_of",
    "answer",
    "can_read",
    "can_write",
    "decode_data",
    "is_local_prefix",
    "is_public_by_default",
    "iso_utc",
    "malformed",
    "not_found",
    "split_handle",
    "validate_value",
    "value_json",
]
