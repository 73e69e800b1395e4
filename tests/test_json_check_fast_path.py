"""The small-value path of the JSON check decides exactly as the full walk.

`json_values.check_json` first tries `_check_small_json`, a plain recursion for small,
shallow values (what almost every ``input``/``output`` is); the full walk bounds huge and
self-sharing values. Both must accept and refuse the same values, with the same message.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skillbox_store.errors import InvalidArgumentError
from skillbox_store.limits import JSON_MAX_DEPTH
from skillbox_store.validation import json_values

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=4),
    st.sampled_from(["a\x00b", "\ud800", (1, 2), b"bytes", 1 + 2j]),
)
_KEYS = st.one_of(st.text(max_size=3), st.sampled_from(["k\x00", 7, None, ("t",)]))
_VALUES = st.recursive(
    _SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=6),
        st.dictionaries(_KEYS, children, max_size=6),
    ),
    max_leaves=400,
)


def _outcome(value: object) -> str:
    try:
        json_values.check_json("input", value)
    except InvalidArgumentError as exc:
        return f"refused: {exc}"
    return "accepted"


@settings(max_examples=300, deadline=None)
@given(_VALUES)
def test_small_path_decides_as_the_full_walk(value: object) -> None:
    """Any value, good or bad, small or past the small path's bounds: same outcome."""
    with_small_path = _outcome(value)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(json_values, "_SMALL_JSON_VALUES", 0)
        full_walk = _outcome(value)
    assert with_small_path == full_walk


def test_values_past_the_small_bounds_still_get_the_full_checks() -> None:
    """Too deep, too many, or sharing itself: the full walk's limits still apply."""
    deep: list[object] = []
    inner = deep
    for _ in range(JSON_MAX_DEPTH + 1):
        inner.append([])
        inner = inner[0]  # type: ignore[assignment]
    assert "deep" in _outcome(deep)
    loop: list[object] = []
    loop.append(loop)
    assert _outcome(loop).startswith("refused")
    assert _outcome([*range(1000), math.nan]).startswith("refused")
    assert _outcome({"a": [1, 2.5, "x", None, True, {"b": []}]}) == "accepted"
