"""Targeted tests for docs/contract.md, "Opening and the store's life".

`test_lifecycle.py` proves the rest of that section (``store.open.forms``,
``store.async_with.closes``, ``store.close.then_raises``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from skillbox_store import InvalidArgumentError, open_store
from skillbox_store.urls import url_scheme

from .clauses import clause
from .harness import Harness, call, new_key_hash, new_tenant, raises


@clause("store.open.scheme")
def test_unknown_scheme_names_the_installed_ones(store_url: str) -> None:
    """An unknown scheme is InvalidArgumentError naming the scheme of the store under test."""
    scheme = url_scheme(store_url)

    async def attempt() -> InvalidArgumentError:
        return await raises(InvalidArgumentError, open_store("no-such-backend-zz://host/db"))

    error = asyncio.run(attempt())
    assert f"{scheme}://" in str(error), f"{scheme}:// not named in: {error}"


@clause("store.ping.answers")
def test_ping_returns_none(harness: Harness) -> None:
    """ping answers None, again and again."""
    for _ in range(3):
        assert harness.run(call(harness.store.ping())) is None


@clause("store.schema_version.stable")
def test_schema_version_is_positive_and_stable(harness: Harness) -> None:
    """A positive int, unchanged by writes."""
    store = harness.store
    version = harness.run(call(store.schema_version()))
    assert isinstance(version, int)
    assert not isinstance(version, bool)
    assert version >= 1
    harness.run(call(store.create_key(new_tenant(), "k", new_key_hash())))
    assert harness.run(call(store.schema_version())) == version


@clause("store.close.idempotent")
def test_close_again_does_nothing(store_url: str) -> None:
    """The second and third close raise nothing."""

    async def scenario() -> None:
        store = await open_store(store_url)
        try:
            await call(store.ping())
        finally:
            # Closed even when ping fails: an open SQLite store's threads would keep
            # the test process from exiting.
            for _ in range(3):
                await call(store.close())

    asyncio.run(scenario())


# Each would be kept other than as given by PostgreSQL (truncated past 63 bytes, folded
# to lower case, read as a placeholder) or names a system schema.
_BAD_SCHEMAS = ("a" * 64, "%s", "%(x)s", "a%%b", 'a"b', "a b", "\ud800", "pg_catalog", "Sandbox")


@clause("store.open.options_exact")
def test_unknown_options_and_unkept_schema_names_are_refused(store_url: str) -> None:
    """Refused with InvalidArgumentError, quickly, whatever the backend."""

    async def scenario() -> None:
        refused: list[dict[str, Any]] = [{"no_such_option_zz": 1}]
        refused += [{"schema": schema} for schema in _BAD_SCHEMAS]
        for options in refused:
            async with asyncio.timeout(5):
                await raises(InvalidArgumentError, open_store(store_url, **options))

    asyncio.run(scenario())
