"""carbonpark's RFC 8785 serialiser against an independent implementation (the ``rfc8785`` package).

carbonpark keeps its own canonicaliser (it adds the Decimal-as-string rule and runs about twice
as fast on entries); this differential test checks that, on every JSON value both accept, the
bytes are identical: member order by UTF-16 code units, string escapes, ECMAScript numbers.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carbonpark.ledger.canonical import MAX_SAFE_INTEGER, canonical_json

rfc8785 = pytest.importorskip("rfc8785")

text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4), max_leaves=12
)


@settings(max_examples=400, deadline=None)
@given(values)
def test_same_bytes_as_an_independent_rfc8785_implementation(value: object) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


def test_rfc8785_appendix_numbers_and_supplementary_member_order() -> None:
    # RFC 8785 §3.2.2.3 examples and §3.2.3 ordering (U+1F600 sorts before U+FB33 as UTF-16)
    doc = {"\U0001f600": 1, "\ufb33": 2, "a": [333333333.33333329, 1e30, 4.5, 2e-3, 0.000001, 1e-7, -0.0]}
    assert canonical_json(doc) == rfc8785.dumps(doc)
    assert canonical_json(doc) == (
        '{"a":[333333333.3333333,1e+30,4.5,0.002,0.000001,1e-7,0],"\U0001f600":1,"\ufb33":2}'.encode()
    )
