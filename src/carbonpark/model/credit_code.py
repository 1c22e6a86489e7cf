"""Unified social credit code (统一社会信用代码) per GB 32100-2015.

Eighteen characters: registration authority (1), entity type (1), administrative
division code (6 digits, GB/T 2260), organisation code (9, GB 11714) and a check
character computed with modulus 31 over the first seventeen.

References
----------
GB 32100-2015 《法人和其他组织统一社会信用代码编码规则》, clause 4 (structure) and
appendix (check character: weights 3^(i-1) mod 31, check = 31 - (Σ c_i w_i mod 31)).
"""

from __future__ import annotations

from carbonpark.errors import ValidationError

__all__ = ["ALPHABET", "check_character", "validate_credit_code"]

#: The 31 characters of the code, in value order (I, O, S, V and Z are not used).
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
#: Position weights: 3**i mod 31 for i = 0..16.
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))


def check_character(first17: str) -> str:
    """The check character (18th) of the first seventeen characters."""
    total = sum(ALPHABET.index(ch) * w for ch, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def validate_credit_code(code: str, field: str = "credit_code") -> str:
    """Return ``code`` upper-cased if it is a valid unified social credit code.

    Raises
    ------
    ValidationError
        Naming the wrong length, character, division code or check character.
    """
    text = code.strip().upper()
    if len(text) != 18:
        raise ValidationError(field, "18 characters (GB 32100)", code)
    bad = [ch for ch in text if ch not in ALPHABET]
    if bad:
        raise ValidationError(field, f"only characters of {ALPHABET} (GB 32100; no I, O, S, V, Z)", code)
    if not text[2:8].isdigit():
        raise ValidationError(field, "a 6-digit administrative division code in positions 3–8", code)
    expected = check_character(text[:17])
    if text[17] != expected:
        raise ValidationError(field, f"check character {expected!r} (GB 32100 modulus 31)", code)
    return text
