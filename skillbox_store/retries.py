"""How many times the current store call ran a statement again: for its telemetry span.

A backend calls `retried()` where it runs something again on its own (a read after a
dead connection, an insert that lost a race for a chain's head); `counting()` lets an
observer (the telemetry proxy) count them for one call. Nobody counting, `retried` is
one context-variable read, on paths that are already the slow ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Final

__all__ = ["counting", "retried"]

_COUNTER: Final[ContextVar[list[int] | None]] = ContextVar("skillbox_store_retries", default=None)


def retried() -> None:
    """Count one retry of the current call, if it is being counted."""
    counter = _COUNTER.get()
    if counter is not None:
        counter[0] += 1


@contextmanager
def counting() -> Iterator[list[int]]:
    """Count the retries of the calls inside; the count is the yielded list's one item."""
    counter = [0]
    token = _COUNTER.set(counter)
    try:
        yield counter
    finally:
        _COUNTER.reset(token)
