"""The URL forms the memory backend opens, and the ones it refuses.

The contract suite opens a store only by the URL it is given, so no clause test can
tell ``memory://`` from a longer URL; these can (they kill mutant K2 of
``contract_tests/EQUIVALENT_MUTANTS.md``).
"""

from __future__ import annotations

import asyncio

import pytest

from skillbox_store import InvalidArgumentError, open_store
from skillbox_store.backends.memory import MemoryStore, open_memory_store

ACCEPTED = ["memory://", "memory:///"]
REFUSED = [
    "memory://X",
    "memory://XX",
    "memory://x",
    "memory://anything",
    "memory://X/",
    "memory:///X",
    "memory://:memory:",
    "memory://?cache=shared",
]


@pytest.mark.parametrize("url", ACCEPTED)
def test_the_bare_url_opens_an_empty_store(url: str) -> None:
    """``memory://`` (a trailing slash allowed) opens a new MemoryStore, directly or not."""

    async def scenario() -> None:
        direct = await open_memory_store(url)
        assert isinstance(direct, MemoryStore)
        await direct.close()
        async with open_store(url) as store:
            assert isinstance(store, MemoryStore)
            assert await store.list_keys("t") == []

    asyncio.run(scenario())


@pytest.mark.parametrize("url", REFUSED)
def test_anything_after_the_scheme_is_refused(url: str) -> None:
    """A host, path or query after ``memory://`` is InvalidArgumentError quoting the URL."""

    async def scenario() -> None:
        for opener in (open_memory_store, open_store):
            with pytest.raises(InvalidArgumentError) as caught:
                await opener(url)
            assert url in str(caught.value), (opener.__name__, caught.value)

    asyncio.run(scenario())


def test_options_are_refused() -> None:
    """The memory backend takes no options: any is InvalidArgumentError naming it."""

    async def scenario() -> None:
        with pytest.raises(InvalidArgumentError, match="pool_size"):
            await open_memory_store("memory://", pool_size=2)

    asyncio.run(scenario())
