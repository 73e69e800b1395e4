"""Driving an async store from sync tests, and what every call must satisfy.

Hypothesis rules and examples are sync, so each test (or machine run) owns one
`asyncio.Runner`: the store is opened, used and closed on that one loop, which pooled
drivers require.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import uuid
from collections.abc import Awaitable, Coroutine
from types import TracebackType
from typing import Any, Self, TypeVar

from skillbox_store import Store, open_store

__all__ = [
    "Harness",
    "assert_from_store",
    "call",
    "message_names",
    "new_key_hash",
    "new_tenant",
    "raises",
]

T = TypeVar("T")
E = TypeVar("E", bound=BaseException)


def new_tenant() -> str:
    """Return a tenant id no other test or run uses, so the store may hold other data."""
    return f"t-{uuid.uuid4().hex[:12]}"


def new_key_hash() -> str:
    """Return a key hash no other test or run uses (key hashes are unique store-wide)."""
    return hashlib.sha256(uuid.uuid4().bytes).hexdigest()


def message_names(field: str, message: str) -> bool:
    """Whether ``message`` names ``field`` as a word of its own, spelled exactly."""
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(field)}(?![A-Za-z0-9_])", message) is not None


def assert_from_store(exc: BaseException) -> None:
    """Fail unless ``exc`` was raised on purpose by the store, not by its driver."""
    module = type(exc).__module__
    if not module.startswith("skillbox_store"):
        raise AssertionError(
            f"{module}.{type(exc).__qualname__} escaped a Store method: {exc!r}"
        ) from exc


async def call(awaitable: Awaitable[T]) -> T:
    """Await a store call; any exception it raises must come from `skillbox_store`."""
    try:
        return await awaitable
    except Exception as exc:
        assert_from_store(exc)
        raise


async def raises(expected: type[E], awaitable: Awaitable[object]) -> E:
    """Await a store call that must fail with ``expected``; return the exception."""
    try:
        result = await awaitable
    except Exception as exc:
        assert_from_store(exc)
        if not isinstance(exc, expected):
            raise AssertionError(
                f"expected {expected.__name__}, got {type(exc).__name__}: {exc}"
            ) from exc
        return exc
    raise AssertionError(f"expected {expected.__name__}, the call returned {result!r}")


async def _wrap(awaitable: Awaitable[T]) -> T:
    return await awaitable


class Harness:
    """One event loop and one store opened on it; close it when done.

    ``run`` drives any awaitable to completion on the loop.
    """

    def __init__(self, url: str) -> None:
        """Prepare a loop for the store at ``url``; `open` opens the store."""
        self.url = url
        self._runner = asyncio.Runner()
        self._store: Store | None = None

    @property
    def store(self) -> Store:
        """The open store."""
        if self._store is None:
            raise RuntimeError("the harness has no open store")
        return self._store

    def run(self, awaitable: Awaitable[T]) -> T:
        """Run ``awaitable`` on the harness's loop and return its result."""
        coroutine: Coroutine[Any, Any, T] = _wrap(awaitable)
        return self._runner.run(coroutine)

    def open(self) -> Store:
        """Open the store through `open_store`, as any user would."""
        self._store = self.run(open_store(self.url))
        return self._store

    def close(self) -> None:
        """Close the store (if open) and the loop; safe to call twice."""
        try:
            if self._store is not None:
                store, self._store = self._store, None
                self.run(store.close())
        finally:
            self._runner.close()

    def __enter__(self) -> Self:
        """Open the store."""
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the store and the loop."""
        self.close()
