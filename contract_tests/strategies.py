"""Hypothesis strategies for the values a store must keep exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Final

from hypothesis import strategies as st
from pydantic import JsonValue

from skillbox_store import EXECUTION_STATUSES

__all__ = [
    "STATUSES",
    "aware_datetimes",
    "json_values",
    "optional_text",
    "required_text",
    "text",
]

STATUSES: Final = sorted(EXECUTION_STATUSES)

# Any Unicode a store must keep: every plane, combining marks, RTL, emoji; never NUL
# ("Bad input and limits" refuses it) nor lone surrogates (not encodable, so not text at all).
_CHARACTERS: Final = st.characters(
    codec="utf-8", exclude_characters="\x00", exclude_categories=["Cs"]
)

text: Final = st.text(_CHARACTERS, max_size=40)
"""Any storable text, the empty string included."""

required_text: Final = st.text(_CHARACTERS, min_size=1, max_size=40)
"""Storable text for fields that must not be empty."""

optional_text: Final = st.none() | text
"""None or storable text: the two must stay distinct (None is not "")."""

_OFFSETS: Final = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)

aware_datetimes: Final = st.datetimes(
    min_value=datetime(1900, 1, 1),
    max_value=datetime(2999, 12, 31),
    timezones=st.just(UTC) | _OFFSETS,
)
"""Timezone-aware datetimes with microseconds, in any UTC offset."""

_JSON_SCALARS: Final = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    # Bounded: a float beyond 1e15 may come back from a jsonb column spelled as an
    # integer (numeric keeps every digit), which no JSON reader can tell from one.
    | st.floats(min_value=-1e15, max_value=1e15)
    | text
)

json_values: Final[st.SearchStrategy[JsonValue]] = st.recursive(
    _JSON_SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=12,
)
"""JSON values: what `Execution.input` and `output` must round-trip exactly."""
