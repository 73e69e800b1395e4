"""Round trips per method: every point read and single-row write is one.

Counted on the wire, client side: libpq's protocol trace of the pool's only connection
shows one ReadyForQuery per round trip, whatever the protocol (simple or extended).
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from psycopg import AsyncConnection, pq
from psycopg_pool import AsyncConnectionPool

from skillbox_store import ConflictError, NotFoundError, open_store
from skillbox_store.backends.postgres import PostgresStore
from skillbox_store.keys import hash_key
from skillbox_store.records import Execution, File, FileFilter, SkillRecord

pytestmark = pytest.mark.postgres

Row = tuple[Any, ...]


class WireCounter:
    """Counts the round trips of the one connection of a pool."""

    def __init__(self, pool: AsyncConnectionPool[AsyncConnection[Row]]) -> None:
        self._pool = pool
        self._file = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed in close()

    async def count(self, call: Callable[[], Awaitable[object]]) -> int:
        """Run ``call`` and return how many round trips it made."""
        start = self._file.seek(0, 2)
        async with self._pool.connection() as conn:
            conn.pgconn.trace(self._file.fileno())
            conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        try:
            await call()
        finally:
            async with self._pool.connection() as conn:
                conn.pgconn.untrace()  # flushes libpq's buffered trace
        self._file.seek(start)
        return sum("\tReadyForQuery\t" in line for line in self._file.read().splitlines())

    def close(self) -> None:
        self._file.close()


@asynccontextmanager
async def traced_store(
    url: str, schema: str, **kwargs: Any
) -> AsyncIterator[tuple[PostgresStore, WireCounter]]:
    async with open_store(url, schema=schema, min_size=1, max_size=1):
        pass  # migrates the schema
    pool: AsyncConnectionPool[AsyncConnection[Row]] = AsyncConnectionPool(
        url,
        min_size=1,
        max_size=1,
        kwargs={"autocommit": True, **kwargs},
        connection_class=AsyncConnection[Row],
        open=False,
    )
    await pool.open(wait=True)
    counter = WireCounter(pool)
    try:
        yield PostgresStore(pool, schema=schema), counter
    finally:
        counter.close()
        await pool.close()


def _operations(store: PostgresStore) -> dict[str, Callable[[int], Awaitable[object]]]:
    """Each method on fresh data per iteration ``i``, on its success path."""
    t = "tenant"
    state: dict[str, Any] = {}

    async def setup() -> None:
        state["execution"] = await store.create_execution(
            Execution(tenant_id=t, skill_name="s", skill_version="1", input={"a": 1})
        )
        state["file"] = await store.create_file(File(tenant_id=t, name="f", s3_key="k"))
        state["session"] = await store.get_or_create_session(t, "ext")
        # Keyset cursors with older records below them (the oldest ones give empty pages).
        state["newer_execution"] = await store.create_execution(
            Execution(tenant_id=t, skill_name="s", skill_version="2")
        )
        state["session_file"] = await store.create_file(
            File(tenant_id=t, name="g", s3_key="k", session_id=state["session"].id)
        )

    def file() -> File:
        made: File = state["file"]
        return made

    return {
        "_setup": lambda i: setup(),
        "create_key": lambda i: store.create_key(t, "k", hash_key(f"hash-{i}")),
        "get_key_by_hash": lambda i: store.get_key_by_hash(hash_key("hash-0")),
        "validate_key": lambda i: store.validate_key(hash_key("hash-0")),
        "list_keys": lambda i: store.list_keys(t),
        "create_execution": lambda i: store.create_execution(
            Execution(tenant_id=t, skill_name="s", skill_version="1", input="text")
        ),
        "insert_execution": lambda i: store.insert_execution(
            Execution(tenant_id=t, skill_name="s", skill_version="1", status="success")
        ),
        "get_execution": lambda i: store.get_execution(t, state["execution"].id),
        "list_executions": lambda i: store.list_executions(t),
        "list_executions_after": lambda i: store.list_executions(
            t, after=state["newer_execution"].id
        ),
        "list_executions_after_oldest": lambda i: store.list_executions(
            t, after=state["execution"].id
        ),
        "create_file": lambda i: store.create_file(File(tenant_id=t, name="f", s3_key="k")),
        "create_file_with_parent": lambda i: store.create_file(
            File(tenant_id=t, name="f", s3_key="k", parent_id=file().id, version=1000 * (i + 1))
        ),
        "get_file": lambda i: store.get_file(t, file().id),
        "update_file": lambda i: store.update_file(file().model_copy(update={"name": f"n{i}"})),
        "list_files": lambda i: store.list_files(FileFilter(tenant_id=t)),
        "list_files_after": lambda i: store.list_files(
            FileFilter(tenant_id=t, after=state["session_file"].id)
        ),
        "list_files_after_by_session": lambda i: store.list_files(
            FileFilter(tenant_id=t, session_id=state["session"].id, after=state["session_file"].id)
        ),
        "list_session_files": lambda i: store.list_session_files(t, state["session"].id),
        "create_file_version": lambda i: store.create_file_version(
            t, file().id, size_bytes=1, s3_key="v"
        ),
        "list_file_versions": lambda i: store.list_file_versions(t, file().id),
        "get_or_create_session": lambda i: store.get_or_create_session(t, "ext"),
        "get_session": lambda i: store.get_session(t, state["session"].id),
        "get_session_by_external_id": lambda i: store.get_session_by_external_id(t, "ext"),
        "touch_session": lambda i: store.touch_session(t, state["session"].id),
        "upsert_skill": lambda i: store.upsert_skill(
            SkillRecord(tenant_id=t, name="s", version=str(i))
        ),
        "get_skill": lambda i: store.get_skill(t, "s", "0"),
        "list_skills": lambda i: store.list_skills(t),
        "resolve_latest_version": lambda i: store.resolve_latest_version(t, "s"),
        "delete_skill": lambda i: store.delete_skill(t, "s", f"absent-{i}"),
        "ping": lambda i: store.ping(),
        "schema_version": lambda i: store.schema_version(),
    }


# Methods whose measured call needs a row made first (the set-up is not counted).
_NEEDS_FRESH_ROW = ("revoke_key", "update_execution", "delete_file", "delete_session")


@pytest.mark.parametrize("prepare_threshold", [5, None], ids=["prepared", "unprepared"])
def test_every_point_read_and_single_row_write_is_one_round_trip(
    postgres_url: str, pg_schema: str, prepare_threshold: int | None
) -> None:
    async def scenario() -> dict[str, list[int]]:
        async with traced_store(postgres_url, pg_schema, prepare_threshold=prepare_threshold) as (
            store,
            counter,
        ):
            operations = _operations(store)
            await operations.pop("_setup")(0)
            counts: dict[str, list[int]] = {}
            for i in range(8):
                for name, operation in operations.items():
                    counts.setdefault(name, []).append(
                        await counter.count(lambda op=operation, i=i: op(i))  # type: ignore[misc]
                    )
                for name, make, act in _fresh_row_cases(store, i):
                    await make()
                    counts.setdefault(name, []).append(await counter.count(act))
            return counts

    counts = asyncio.run(scenario())
    # After the warm-up (psycopg prepares a statement on its 5th run: Parse and
    # Execute then travel separately, once per connection and statement) every call
    # is a single round trip.
    steady = {name: values[6:] for name, values in counts.items()}
    assert {name: max(values) for name, values in steady.items()} == dict.fromkeys(steady, 1)
    assert set(_NEEDS_FRESH_ROW) <= set(counts)


def _fresh_row_cases(
    store: PostgresStore, i: int
) -> list[tuple[str, Callable[[], Awaitable[object]], Callable[[], Awaitable[object]]]]:
    t = "tenant"
    made: dict[str, Any] = {}

    async def make_key() -> None:
        made["key"] = await store.create_key(t, "k", hash_key(f"revoke-{i}"))

    async def make_execution() -> None:
        made["execution"] = await store.create_execution(
            Execution(tenant_id=t, skill_name="s", skill_version="1")
        )

    async def make_file() -> None:
        made["file"] = await store.create_file(File(tenant_id=t, name="d", s3_key="k"))

    async def make_session() -> None:
        await store.get_or_create_session(t, f"gone-{i}")

    return [
        ("revoke_key", make_key, lambda: store.revoke_key(t, made["key"].id)),
        (
            "update_execution",
            make_execution,
            lambda: store.update_execution(
                made["execution"].model_copy(update={"status": "failed"})
            ),
        ),
        ("delete_file", make_file, lambda: store.delete_file(t, made["file"].id)),
        ("delete_session", make_session, lambda: store.delete_session(t, f"gone-{i}")),
    ]


def test_error_paths_take_at_most_two_round_trips(postgres_url: str, pg_schema: str) -> None:
    async def scenario() -> dict[str, int]:
        async with traced_store(postgres_url, pg_schema, prepare_threshold=None) as (
            store,
            counter,
        ):
            t = "tenant"
            missing = "00000000-0000-4000-8000-000000000000"
            root = await store.create_file(File(tenant_id=t, name="f", s3_key="k"))
            await store.create_file_version(t, root.id, size_bytes=1, s3_key="v")
            done = await store.insert_execution(
                Execution(tenant_id=t, skill_name="s", skill_version="1", status="success")
            )

            async def expect(call: Awaitable[object], error: type[Exception]) -> None:
                with pytest.raises(error):
                    await call

            return {
                "get_execution missing": await counter.count(
                    lambda: expect(store.get_execution(t, missing), NotFoundError)
                ),
                "revoke_key missing": await counter.count(
                    lambda: expect(store.revoke_key(t, missing), NotFoundError)
                ),
                "update_execution finished": await counter.count(
                    lambda: expect(store.update_execution(done), ConflictError)
                ),
                "create_file bad parent": await counter.count(
                    lambda: expect(
                        store.create_file(
                            File(tenant_id=t, name="f", s3_key="k", parent_id=missing)
                        ),
                        NotFoundError,
                    )
                ),
                "delete_file parent": await counter.count(
                    lambda: expect(store.delete_file(t, root.id), ConflictError)
                ),
                "update_file bad version": await counter.count(
                    lambda: expect(
                        store.update_file(root.model_copy(update={"version": 2})), ConflictError
                    )
                ),
            }

    counts = asyncio.run(scenario())
    assert max(counts.values()) <= 2, counts
