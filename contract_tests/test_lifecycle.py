"""The store itself: transactions, close, ``async with``, ping and schema_version."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Final

import pytest

from skillbox_store import (
    ConflictError,
    Execution,
    File,
    FileFilter,
    InvalidArgumentError,
    NotFoundError,
    SkillRecord,
    Store,
    StoreError,
    open_store,
)

from .clauses import clause
from .harness import Harness, call, new_key_hash, new_tenant, raises


class _Boom(Exception):
    """Raised in a block to roll it back."""


async def _key_names(store: Store, tenant: str) -> list[str]:
    return [k.name for k in await call(store.list_keys(tenant))]


@clause("tx.commit")
def test_transaction_commits(harness: Harness) -> None:
    """Writes of a block that ends normally are all visible afterwards."""
    tenant = new_tenant()
    store = harness.store

    async def block() -> None:
        async with store.transaction() as tx:
            await call(tx.create_key(tenant, "one", new_key_hash()))
            await call(tx.create_key(tenant, "two", new_key_hash()))
            # The block sees its own writes, newest first.
            assert await _key_names(tx, tenant) == ["two", "one"]
            await call(tx.upsert_skill(SkillRecord(tenant_id=tenant, name="s", version="1")))

    harness.run(block())
    assert harness.run(_key_names(store, tenant)) == ["two", "one"]
    assert harness.run(call(store.resolve_latest_version(tenant, "s"))) == "1"


@clause("tx.rollback")
def test_transaction_rolls_back(harness: Harness) -> None:
    """A block that raises leaves no trace, and its exception reaches the caller."""
    tenant = new_tenant()
    store = harness.store
    key_hash = new_key_hash()
    kept = harness.run(call(store.create_key(tenant, "kept", new_key_hash())))

    async def block() -> None:
        async with store.transaction() as tx:
            await call(tx.create_key(tenant, "gone", key_hash))
            await call(tx.revoke_key(tenant, kept.id))
            await call(
                tx.create_execution(Execution(tenant_id=tenant, skill_name="s", skill_version="1"))
            )
            await call(tx.create_file(File(tenant_id=tenant, name="f", s3_key="k")))
            await call(tx.get_or_create_session(tenant, "x"))
            await call(tx.upsert_skill(SkillRecord(tenant_id=tenant, name="s", version="1")))
            raise _Boom

    with pytest.raises(_Boom):
        harness.run(block())
    assert harness.run(_key_names(store, tenant)) == ["kept"]
    assert harness.run(call(store.validate_key(kept.key_hash))) is not None
    harness.run(raises(NotFoundError, store.get_key_by_hash(key_hash)))
    assert harness.run(call(store.list_executions(tenant))) == []
    assert harness.run(call(store.list_files(FileFilter(tenant_id=tenant)))) == []
    harness.run(raises(NotFoundError, store.get_session_by_external_id(tenant, "x")))
    assert harness.run(call(store.list_skills(tenant))) == []


@clause("tx.savepoint.rollback")
def test_nested_transaction_rolls_back_alone(harness: Harness) -> None:
    """A nested block that raises undoes only its own writes; the outer block commits."""
    tenant = new_tenant()
    store = harness.store

    async def rolled_back(tx: Store) -> None:
        async with tx.transaction() as inner:
            await call(inner.create_key(tenant, "inner", new_key_hash()))
            assert await _key_names(inner, tenant) == ["inner", "outer-before"]
            raise _Boom

    async def block() -> None:
        async with store.transaction() as tx:
            await call(tx.create_key(tenant, "outer-before", new_key_hash()))
            with pytest.raises(_Boom):
                await rolled_back(tx)
            assert await _key_names(tx, tenant) == ["outer-before"]
            async with tx.transaction() as inner:
                await call(inner.create_key(tenant, "inner-kept", new_key_hash()))
            await call(tx.create_key(tenant, "outer-after", new_key_hash()))

    harness.run(block())
    assert harness.run(_key_names(store, tenant)) == ["outer-after", "inner-kept", "outer-before"]


@clause("tx.savepoint.outer")
def test_outer_rollback_undoes_committed_nested_block(harness: Harness) -> None:
    """A nested block that committed is undone when the outer block raises."""
    tenant = new_tenant()
    store = harness.store

    async def block() -> None:
        async with store.transaction() as tx:
            async with tx.transaction() as inner:
                await call(inner.create_key(tenant, "inner", new_key_hash()))
            raise _Boom

    with pytest.raises(_Boom):
        harness.run(block())
    assert harness.run(_key_names(store, tenant)) == []


@clause("tx.outer_write")
def test_outer_write_inside_own_block_is_refused(harness: Harness) -> None:
    """Writing through the outer store from inside a block raises, never deadlocks.

    The block's own writes are unaffected and commit when it ends.
    """
    tenant = new_tenant()
    store = harness.store

    async def block() -> None:
        async with store.transaction() as tx:
            await call(tx.create_key(tenant, "inside", new_key_hash()))
            await raises(StoreError, store.create_key(tenant, "outside", new_key_hash()))
            await call(tx.create_key(tenant, "after", new_key_hash()))

    harness.run(asyncio.wait_for(block(), timeout=60))
    assert harness.run(_key_names(store, tenant)) == ["after", "inside"]


@clause("tx.ended")
def test_transaction_store_unusable_after_block(harness: Harness) -> None:
    """The store a block was given raises StoreError once the block has ended."""
    tenant = new_tenant()
    store = harness.store

    async def block() -> Store:
        async with store.transaction() as tx:
            await call(tx.list_keys(tenant))
        return tx

    tx = harness.run(block())
    harness.run(raises(StoreError, tx.create_key(tenant, "late", new_key_hash())))
    harness.run(raises(StoreError, tx.list_keys(tenant)))
    assert harness.run(_key_names(store, tenant)) == []


def _every_method(
    tenant: str, some_id: str
) -> list[tuple[str, Callable[[Store], Awaitable[object]]]]:
    execution = Execution(id=some_id, tenant_id=tenant, skill_name="s", skill_version="1")
    file = File(id=some_id, tenant_id=tenant, name="f", s3_key="k")
    skill = SkillRecord(tenant_id=tenant, name="s", version="1")
    return [
        ("create_key", lambda s: s.create_key(tenant, "k", new_key_hash())),
        ("get_key_by_hash", lambda s: s.get_key_by_hash(new_key_hash())),
        ("validate_key", lambda s: s.validate_key(new_key_hash())),
        ("list_keys", lambda s: s.list_keys(tenant)),
        ("revoke_key", lambda s: s.revoke_key(tenant, some_id)),
        ("create_execution", lambda s: s.create_execution(execution)),
        ("insert_execution", lambda s: s.insert_execution(execution)),
        ("get_execution", lambda s: s.get_execution(tenant, some_id)),
        ("list_executions", lambda s: s.list_executions(tenant)),
        ("update_execution", lambda s: s.update_execution(execution)),
        ("create_file", lambda s: s.create_file(file.model_copy(update={"id": ""}))),
        ("get_file", lambda s: s.get_file(tenant, some_id)),
        ("update_file", lambda s: s.update_file(file)),
        ("delete_file", lambda s: s.delete_file(tenant, some_id)),
        ("list_files", lambda s: s.list_files(FileFilter(tenant_id=tenant))),
        ("list_session_files", lambda s: s.list_session_files(tenant, some_id)),
        (
            "create_file_version",
            lambda s: s.create_file_version(tenant, some_id, size_bytes=1, s3_key="k"),
        ),
        ("list_file_versions", lambda s: s.list_file_versions(tenant, some_id)),
        ("get_or_create_session", lambda s: s.get_or_create_session(tenant, "x")),
        ("get_session", lambda s: s.get_session(tenant, some_id)),
        ("get_session_by_external_id", lambda s: s.get_session_by_external_id(tenant, "x")),
        ("touch_session", lambda s: s.touch_session(tenant, some_id)),
        ("delete_session", lambda s: s.delete_session(tenant, "x")),
        ("upsert_skill", lambda s: s.upsert_skill(skill)),
        ("get_skill", lambda s: s.get_skill(tenant, "s", "1")),
        ("delete_skill", lambda s: s.delete_skill(tenant, "s", "1")),
        ("list_skills", lambda s: s.list_skills(tenant)),
        ("resolve_latest_version", lambda s: s.resolve_latest_version(tenant, "s")),
        ("purge_tenant", lambda s: s.purge_tenant(tenant)),
        ("prune_executions", lambda s: s.prune_executions(tenant, datetime.now(UTC))),
        ("ping", lambda s: s.ping()),
        ("schema_version", lambda s: s.schema_version()),
    ]


async def _enter_transaction(store: Store) -> None:
    async with store.transaction():
        pass


def _protocol_methods() -> set[str]:
    """The `Store` Protocol's public methods but close: what a closed store must refuse."""
    return {
        name
        for name, _ in inspect.getmembers(Store, inspect.isfunction)
        if not name.startswith("_") and name != "close"
    }


AT_ONCE: Final = 2.0
"""Seconds a call on a closed store may take: it must not reach for a database."""


async def _refused_at_once(name: str, awaitable: Awaitable[object]) -> None:
    """Await a call on a closed store: `StoreError` within `AT_ONCE`, not about its input."""
    try:
        async with asyncio.timeout(AT_ONCE):
            error = await raises(StoreError, awaitable)
    except TimeoutError:
        raise AssertionError(f"{name} after close: no answer within {AT_ONCE} s") from None
    except AssertionError as exc:
        raise AssertionError(f"{name} after close: {exc}") from exc
    # Well-formed input: an error about it means the store looked past "closed".
    assert not isinstance(error, InvalidArgumentError | NotFoundError | ConflictError), (
        f"{name} after close: {type(error).__name__} instead of closed: {error}"
    )


@clause("store.close.idempotent", "store.close.then_raises")
def test_close_twice_then_every_method_raises(store_url: str) -> None:
    """close() twice is harmless; afterwards every method raises StoreError at once."""
    with Harness(store_url) as harness:
        store = harness.store
        tenant = new_tenant()
        key = harness.run(call(store.create_key(tenant, "k", new_key_hash())))
        harness.run(call(store.close()))
        harness.run(call(store.close()))
        every = [*_every_method(tenant, key.id), ("transaction", _enter_transaction)]
        # Read from the Protocol, so a method added later fails here until it is listed.
        assert {name for name, _ in every} == _protocol_methods()
        for name, make_call in every:
            harness.run(_refused_at_once(name, make_call(store)))


@clause("store.async_with.closes", "store.open.forms")
def test_async_with_store_closes_it(store_url: str) -> None:
    """``async with store:`` gives the store and closes it at the end."""
    tenant = new_tenant()

    async def scenario() -> None:
        store = await open_store(store_url)
        async with store as entered:
            assert entered is store
            await call(entered.ping())
            await call(entered.create_key(tenant, "k", new_key_hash()))
        await raises(StoreError, store.list_keys(tenant))
        await call(store.close())

    asyncio.run(scenario())


@clause("store.open.forms")
def test_open_store_as_context_manager(store_url: str) -> None:
    """``async with open_store(url) as store:`` opens, then closes at the end."""
    tenant = new_tenant()

    async def scenario() -> None:
        async with open_store(store_url) as store:
            await call(store.ping())
            assert await call(store.list_keys(tenant)) == []
        await raises(StoreError, store.ping())

    asyncio.run(scenario())


def test_ping_and_schema_version(harness: Harness) -> None:
    """ping answers; schema_version is a positive migration number, stable while open."""
    store = harness.store
    assert harness.run(call(store.ping())) is None
    version = harness.run(call(store.schema_version()))
    assert isinstance(version, int)
    assert version >= 1
    assert harness.run(call(store.schema_version())) == version
