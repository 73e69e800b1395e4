"""JSON values to ``jsonb`` parameters that read back equal and of the same type.

``jsonb`` stores every number as ``numeric``, which keeps the scale it was written
with: ``1.5`` reads back as ``1.5``, but ``1e+300`` (how Python writes a float of 1e16
or more) has no fractional digit and reads back as the integer
``1000…0``. Writing such a float as its exact decimal expansion with a ``.0`` keeps it
a float, and ``float()`` of that expansion is the same float again. Every other finite
float already carries a decimal point or a negative exponent (scale above 0). One
difference stays: ``numeric`` has no negative zero, so ``-0.0`` reads back as ``0.0``
(equal, and a float).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Final

from psycopg.types.json import Jsonb

__all__ = ["dumps", "to_jsonb"]

# From here on float.__repr__ switches to an exponent, always with a "+".
_EXPONENT_FROM: Final = 1e16


def _encode(value: Any) -> Iterator[str]:
    if isinstance(value, float):
        if abs(value) >= _EXPONENT_FROM:
            # Integral (every float this large is), exact, and with a fractional digit.
            yield f"{int(value)}.0"
        else:
            yield float.__repr__(value)
    elif isinstance(value, list):
        yield "["
        for index, item in enumerate(value):
            if index:
                yield ", "
            yield from _encode(item)
        yield "]"
    elif isinstance(value, dict):
        yield "{"
        for index, (key, item) in enumerate(value.items()):
            if index:
                yield ", "
            yield json.dumps(key)
            yield ": "
            yield from _encode(item)
        yield "}"
    else:
        # None, bools, ints and strings: the validated remainder of JSON.
        yield json.dumps(value)


def dumps(value: Any) -> str:
    """Return ``value`` as JSON text whose floats stay floats in ``jsonb``.

    The common case costs one `json.dumps` and a substring search: only text holding
    ``e+`` (a float of 1e16 or more, or those characters inside a string) is written
    again, by a slower encoder that spells large floats out.
    """
    text = json.dumps(value)
    if "e+" not in text:
        return text
    return "".join(_encode(value))


def to_jsonb(value: Any) -> Jsonb | None:
    """Return the parameter for a JSON column; `None` is SQL ``NULL``, not JSON ``null``."""
    return None if value is None else Jsonb(value, dumps=dumps)
