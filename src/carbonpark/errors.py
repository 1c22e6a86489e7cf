"""The exception tree of carbonpark.

Every error says what was expected and what came. Only the entry points (``api``,
``cli``) map these to HTTP statuses or exit codes.
"""

from __future__ import annotations

__all__ = [
    "CarbonparkError",
    "ConflictError",
    "DuplicateError",
    "InfeasibleError",
    "IntegrityError",
    "NotFoundError",
    "PermissionDenied",
    "UnitError",
    "UnknownFactorError",
    "ValidationError",
]


class CarbonparkError(Exception):
    """Root of every error carbonpark raises on purpose."""


class ValidationError(CarbonparkError, ValueError):
    """Input that does not have the expected form.

    Parameters
    ----------
    field
        Where the bad value sits: a field name, a dotted path or ``"line 7, column unit"``.
    expected
        What was expected, in words a user understands.
    got
        What came instead (shown with ``repr``).
    """

    def __init__(self, field: str, expected: str, got: object) -> None:
        self.field = field
        self.expected = expected
        self.got = got
        super().__init__(f"{field}: expected {expected}, got {got!r}")


class UnitError(ValidationError):
    """A unit that is unknown or does not fit the quantity."""


class UnknownFactorError(CarbonparkError, LookupError):
    """A factor set, factor or GWP set that is not in the library; the message lists the known ones."""


class NotFoundError(CarbonparkError, LookupError):
    """An entity that does not exist (by id or handle)."""

    def __init__(self, kind: str, ref: object) -> None:
        self.kind = kind
        self.ref = ref
        super().__init__(f"no {kind} with id or handle {ref!r}")


class DuplicateError(CarbonparkError):
    """An entity whose unique key is already taken."""


class ConflictError(CarbonparkError):
    """A state conflict: a second, different value for something already recorded."""


class IntegrityError(CarbonparkError):
    """Stored data that fails a consistency check (tampering, broken ledger, negative balance)."""


class InfeasibleError(CarbonparkError):
    """An optimisation problem with no feasible solution."""


class PermissionDenied(CarbonparkError, PermissionError):
    """An action the current user or device may not take."""
