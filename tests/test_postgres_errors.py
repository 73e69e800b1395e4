"""The PostgreSQL error mapping: SQLSTATE and constraint names to `StoreError`s."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
import pytest
from psycopg_pool import PoolTimeout

from skillbox_store import (
    AlreadyExistsError,
    ConflictError,
    NotFoundError,
    StoreError,
    UnavailableError,
    open_store,
)
from skillbox_store.backends.postgres.errors import scrub, translate
from skillbox_store.keys import hash_key
from skillbox_store.records import Execution, File

pytestmark = pytest.mark.postgres


def _raised(url: str, statement: str) -> psycopg.Error:
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            conn.execute(statement)
        except psycopg.Error as exc:
            return exc
    raise AssertionError(f"{statement!r} did not fail")


def test_sqlstates_map_to_store_errors(postgres_url: str) -> None:
    assert isinstance(translate(_raised(postgres_url, "SELECT 'x'::uuid")), NotFoundError)
    assert isinstance(translate(_raised(postgres_url, "SELECT 1/0")), StoreError)
    assert type(translate(_raised(postgres_url, "SELECT * FROM no_such_table"))) is StoreError
    assert isinstance(translate(PoolTimeout("no connection")), UnavailableError)
    assert isinstance(translate(psycopg.OperationalError("server closed")), UnavailableError)


def test_scrub_removes_the_password() -> None:
    assert scrub("failed for postgres:hunter2@db", "hunter2") == "failed for postgres:***@db"
    assert scrub("nothing to hide", None) == "nothing to hide"


def test_constraints_map_to_the_promise_they_keep(postgres_url: str, pg_schema: str) -> None:
    async def scenario() -> None:
        async with open_store(postgres_url, schema=pg_schema) as store:
            await store.create_key("a", "k", hash_key("same-hash"))
            # The hash is unique across tenants (api_keys_key_hash_key).
            with pytest.raises(AlreadyExistsError):
                await store.create_key("b", "k", hash_key("same-hash"))
            # Another tenant's execution is a missing one (files_execution_fkey).
            other = await store.create_execution(
                Execution(tenant_id="b", skill_name="s", skill_version="1")
            )
            with pytest.raises(NotFoundError):
                await store.create_file(
                    File(tenant_id="a", name="f", s3_key="k", execution_id=other.id)
                )
            with pytest.raises(NotFoundError):
                await store.create_file(
                    File(tenant_id="a", name="f", s3_key="k", execution_id=str(uuid.uuid4()))
                )
            # Deleting a parent is a conflict (files_parent_fkey), and deletes nothing.
            root = await store.create_file(File(tenant_id="a", name="f", s3_key="k"))
            await store.create_file_version("a", root.id, size_bytes=1, s3_key="v2")
            with pytest.raises(ConflictError):
                await store.delete_file("a", root.id)
            assert await store.get_file("a", root.id) == root
            # A version used in the chain (files_chain_version_key).
            with pytest.raises(ConflictError):
                await store.create_file(
                    File(tenant_id="a", name="f", s3_key="k", parent_id=root.id, version=2)
                )

    asyncio.run(scenario())
