"""Hypothesis strategies shared by the property tests of the payload parsers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

#: Any character, lone surrogates and control characters included, the tricky ones made frequent.
any_char = (
    st.characters(codec=None, exclude_categories=())
    | st.characters(categories=["Cc", "Cs", "Zs", "Zl", "Zp"])
    | st.sampled_from("\n\t\r \x00\x1b\x7f\x85\xa0\u2028\u202e\ufeff<>&|:@#!")
)
any_text = st.text(any_char, max_size=40)

json_scalars: st.SearchStrategy[Any] = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | any_text
)


def json_values(keys: Sequence[str] = ()) -> st.SearchStrategy[Any]:
    """Any JSON value (shallow), whose objects often use ``keys`` (the names a parser looks for)."""
    names = st.sampled_from(keys) | st.text(max_size=8) if keys else st.text(max_size=8)
    return st.recursive(
        json_scalars,
        lambda children: st.lists(children, max_size=4) | st.dictionaries(names, children, max_size=6),
        max_leaves=25,
    )


def json_objects(keys: Sequence[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Any JSON object whose keys are mostly ``keys``, with values of any shape."""
    return st.dictionaries(st.sampled_from(keys) | st.text(max_size=8), json_values(keys), max_size=8)
