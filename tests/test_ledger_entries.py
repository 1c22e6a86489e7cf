"""RFC 8785 canonical JSON, entries, organisation signatures and the key register."""

from __future__ import annotations

import json
import struct
from decimal import Decimal

import pytest

from carbonpark.errors import ValidationError
from carbonpark.ledger import signing
from carbonpark.ledger.canonical import canonical_json, canonical_number
from carbonpark.ledger.entries import (
    Entry,
    check_signatures,
    key_registration,
    key_revocation,
    parse_entry,
)

# RFC 8785 Appendix B: IEEE-754 bit patterns and their canonical text.
RFC8785_NUMBERS = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("bits", "text"), RFC8785_NUMBERS)
def test_numbers_serialise_as_rfc8785_appendix_b(bits: str, text: str) -> None:
    value = struct.unpack(">d", bytes.fromhex(bits))[0]
    assert canonical_number(value) == text


def test_rfc8785_sorting_example() -> None:
    # RFC 8785 §3.2.3: members sort by UTF-16 code units, so U+1F600 (surrogates D83D DE00)
    # comes before U+FB33, though its code point is larger.
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    order = [k for k in json.loads(canonical_json(value))]
    assert order == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


def test_json_canonicalization_readme_sample() -> None:
    # Input and expected output of the README of cyberphone/json-canonicalization (the
    # RFC 8785 authors' reference implementations).
    source = (
        '{"numbers": [1E30,4.50,6,2e-3,0.000000000000000000000000001],'
        ' "escaping": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
        ' "other":  [null, true, false]}'
    )
    expected = (
        '{"escaping":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/","numbers":[1e+30,4.5,6,0.002,1e-27],"other":[null,true,false]}'
    )
    assert canonical_json(json.loads(source)) == expected.encode("utf-8")


def test_carbonpark_rules_decimals_as_strings_and_safe_integers() -> None:
    assert canonical_json({"t": Decimal("1.500"), "z": Decimal("-0.00"), "e": Decimal("1E+3")}) == (
        b'{"e":"1000","t":"1.5","z":"0"}'
    )
    assert canonical_json([2**53 - 1]) == b"[9007199254740991]"
    with pytest.raises(ValidationError, match=r"\$\[0\]"):
        canonical_json([2**53])
    with pytest.raises(ValidationError):
        canonical_json({"x": float("nan")})
    with pytest.raises(ValidationError):
        canonical_json({1: "non-string key"})
    with pytest.raises(ValidationError):
        canonical_json({"s": "\ud800"})
    with pytest.raises(ValidationError):
        canonical_json({"\ud800": 1, "a": 2})
    with pytest.raises(ValidationError):
        canonical_json({"o": object()})


def _entry(**changes: object) -> Entry:
    fields: dict = {
        "kind": "emission_record",
        "organisation": "ENT-0001",
        "record": "emission_record:42",
        "timestamp_ms": 1735660800000,
        "payload": {"emissions_tco2e": Decimal("12.50"), "scope": 1},
    }
    fields.update(changes)
    return Entry(**fields)


def test_entry_bytes_are_the_documented_canonical_json() -> None:
    assert _entry().to_bytes() == (
        b'{"format":"carbonpark-entry/1","kind":"emission_record","organisation":"ENT-0001",'
        b'"payload":{"emissions_tco2e":"12.5","scope":1},"record":"emission_record:42",'
        b'"timestamp_ms":1735660800000}'
    )
    again = parse_entry(_entry().to_bytes())
    assert again.to_bytes() == _entry().to_bytes()
    assert again.payload["emissions_tco2e"] == "12.5"


def test_parse_refuses_non_canonical_or_malformed_entries() -> None:
    pretty = json.dumps(json.loads(_entry().to_bytes()), indent=1).encode()
    with pytest.raises(ValidationError, match="canonical"):
        parse_entry(pretty)
    with pytest.raises(ValidationError, match="format"):
        parse_entry(b'{"format":"other"}')
    with pytest.raises(ValidationError):
        parse_entry(b"\xff")
    with pytest.raises(ValidationError, match="kind"):
        _entry(kind="Emission Record")
    with pytest.raises(ValidationError, match="organisation"):
        _entry(organisation="")
    with pytest.raises(ValidationError, match="timestamp_ms"):
        _entry(timestamp_ms=-1)


def test_signatures_follow_the_key_register_in_log_order() -> None:
    ent_key, other_key, rotated_key = signing.generate_key(), signing.generate_key(), signing.generate_key()
    t = 1735660800000
    log = [
        _entry().signed(ent_key),  # 0: key not registered yet -> finding
        key_registration("ENT-0001", ent_key.public_key(), t),  # 1
        _entry(record="emission_record:43").signed(ent_key),  # 2: valid
        _entry(record="emission_record:44"),  # 3: unsigned (coverage only)
        _entry(record="emission_record:45").signed(other_key),  # 4: unregistered key
        key_registration("ENT-0001", rotated_key.public_key(), t, replaces=signing.key_id(ent_key)),  # 5
        _entry(record="emission_record:46").signed(ent_key),  # 6: old key, rotated out at 5
        _entry(record="emission_record:47").signed(rotated_key),  # 7: valid
        key_revocation("ENT-0001", signing.key_id(rotated_key), t, "laptop lost"),  # 8
        _entry(record="emission_record:48").signed(rotated_key),  # 9: revoked at 8
    ]
    forged = _entry(record="emission_record:49").signed(rotated_key)
    forged = Entry(forged.kind, forged.organisation, forged.record, forged.timestamp_ms, {"x": 1}, forged.signature)
    log.insert(8, forged)  # 8: payload changed after signing -> does not verify; revocation moves to 9
    check = check_signatures(log)
    problems = {index: problem for index, _, problem in check.findings}
    assert sorted(problems) == [0, 4, 6, 8, 10]
    assert "unregistered" in problems[0] and "unregistered" in problems[4]
    assert "revoked at leaf 5" in problems[6]
    assert problems[8] == "signature does not verify"
    assert "revoked at leaf 9" in problems[10]
    # ENT-0001 has 11 entries, 2 validly signed (leaves 2 and 7).
    assert check.entries_by_organisation["ENT-0001"] == 11
    assert check.coverage("ENT-0001") == pytest.approx(2 / 11)
    assert check.coverage("nobody") == 1.0


def test_a_key_of_another_organisation_does_not_count() -> None:
    key = signing.generate_key()
    log = [
        key_registration("ENT-0002", key.public_key(), 0),
        _entry().signed(key),
    ]
    check = check_signatures(log)
    assert check.findings == [(1, "emission_record:42", "signed with a key of 'ENT-0002', not of 'ENT-0001'")]
