"""SQLite calls that once waited k × ``busy_timeout``, timed.

Each call has one deadline, ``busy_timeout`` after it was made, for everything it
waits for: another process's lock, the calls queued ahead of it on the connection's
thread, another task's `transaction()` block. However many calls queue, each fails with
`UnavailableError` at its own deadline (plus scheduling noise), never k timeouts later,
and a call given up on writes nothing.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, TypeVar

import pytest

from skillbox_store import Execution, Store, UnavailableError, open_store

T = TypeVar("T")

TIMEOUT: Final = 1.0
# Scheduling noise allowed on top of the timeout (2 shared cores, loaded). Small enough
# that the second of the calls queued behind one lock (2 × TIMEOUT before the fix)
# fails the test.
NOISE: Final = 0.6
# Nothing may give up much before its deadline either: SQLite's busy handler sleeps in
# steps, and the store leaves it a few milliseconds of slack.
EARLY: Final = 0.1
QUEUED: Final = 5
# No scenario of this module may run longer than this, whatever goes wrong.
SCENARIO_LIMIT: Final = 30.0


def run(coro: Awaitable[T]) -> T:
    async def bounded() -> T:
        async with asyncio.timeout(SCENARIO_LIMIT):
            return await coro

    return asyncio.run(bounded())


def _execution(skill: str = "s") -> Execution:
    return Execution(tenant_id="t", skill_name=skill, skill_version="1")


async def _timed(call: Awaitable[Any], delay: float = 0.0) -> tuple[BaseException | None, float]:
    """Make the call after ``delay``; return what it raised and how long it took."""
    await asyncio.sleep(delay)
    began = time.monotonic()
    try:
        await call
    except Exception as exc:
        return exc, time.monotonic() - began
    return None, time.monotonic() - began


def _assert_each_gave_up_in_time(outcomes: list[tuple[BaseException | None, float]]) -> None:
    for index, (error, elapsed) in enumerate(outcomes):
        assert isinstance(error, UnavailableError), (index, error)
        assert TIMEOUT - EARLY <= elapsed <= TIMEOUT + NOISE, (
            f"call {index} gave up after {elapsed:.2f} s (busy_timeout {TIMEOUT} s)"
        )


@contextmanager
def _locked_by_another_process(path: Path) -> Iterator[sqlite3.Connection]:
    """Hold the database's write lock on a connection of our own, as another process."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        other.execute("BEGIN IMMEDIATE")
        yield other
        other.execute("ROLLBACK")
    finally:
        other.close()


async def _count_executions(store: Store) -> int:
    return len(await store.list_executions("t", limit=100))


@pytest.mark.slow
def test_writes_queued_behind_another_process_lock_each_give_up_at_their_own_deadline(
    tmp_path: Path,
) -> None:
    path = tmp_path / "locked.db"

    async def body() -> None:
        async with open_store(f"sqlite:///{path}", busy_timeout=TIMEOUT) as store:
            with _locked_by_another_process(path):
                together = await asyncio.gather(
                    *(_timed(store.create_execution(_execution())) for _ in range(QUEUED))
                )
                _assert_each_gave_up_in_time(together)
                # Made one after another while the earlier ones still wait: each is
                # timed from its own start.
                staggered = await asyncio.gather(
                    *(
                        _timed(store.create_execution(_execution()), delay=0.25 * i)
                        for i in range(QUEUED)
                    )
                )
                _assert_each_gave_up_in_time(staggered)
                blocks = await asyncio.gather(*(_timed(_open_block(store)) for _ in range(3)))
                _assert_each_gave_up_in_time(blocks)
            # Nothing of the calls given up on was written, and the store writes again.
            assert await _count_executions(store) == 0
            await store.create_execution(_execution())
            assert await _count_executions(store) == 1

    run(body())


async def _open_block(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.create_execution(_execution("in-block"))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["file", "memory"])
def test_calls_queued_behind_a_long_block_of_another_task_give_up_at_their_deadline(
    kind: str, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'block.db'}" if kind == "file" else "sqlite:///:memory:"

    async def body() -> None:
        async with open_store(url, busy_timeout=TIMEOUT) as store:
            inside = asyncio.Event()
            release = asyncio.Event()

            async def long_block() -> None:
                async with store.transaction() as tx:
                    await tx.create_execution(_execution("held"))
                    inside.set()
                    await release.wait()

            holder = asyncio.create_task(long_block())
            await inside.wait()
            calls: list[Awaitable[Any]] = [
                *(store.create_execution(_execution()) for _ in range(QUEUED)),
                _open_block(store),
            ]
            if kind == "memory":
                # One connection: reads wait for the block too, and give up the same way.
                calls += [store.list_executions("t") for _ in range(QUEUED)]
            outcomes = await asyncio.gather(*(_timed(call) for call in calls))
            _assert_each_gave_up_in_time(outcomes)
            release.set()
            await holder
            assert [e.skill_name for e in await store.list_executions("t")] == ["held"]

    run(body())


@pytest.mark.slow
def test_a_write_queued_behind_a_slow_statement_gives_up_and_never_runs(
    tmp_path: Path,
) -> None:
    """The connection's thread busy with work that waits for no lock (a slow statement
    on the raw connection): the queued write is dropped at its deadline, not run later."""
    path = tmp_path / "slow.db"

    async def body() -> None:
        async with open_store(f"sqlite:///{path}", busy_timeout=TIMEOUT) as store:
            raw = store.connection  # type: ignore[attr-defined]
            await raw.create_function("pause", 1, time.sleep)
            slow = asyncio.create_task(raw.execute("SELECT pause(?)", (TIMEOUT + 1.5,)))
            await asyncio.sleep(0.1)  # the slow statement holds the thread
            ((error, elapsed),) = await asyncio.gather(_timed(store.create_execution(_execution())))
            assert isinstance(error, UnavailableError)
            assert elapsed <= TIMEOUT + NOISE
            await slow
            assert await _count_executions(store) == 0

    run(body())


def test_a_lock_released_in_time_lets_every_queued_write_through(tmp_path: Path) -> None:
    path = tmp_path / "released.db"

    async def body() -> None:
        async with open_store(f"sqlite:///{path}", busy_timeout=TIMEOUT * 5) as store:
            other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            try:
                other.execute("BEGIN IMMEDIATE")
                asyncio.get_running_loop().call_later(0.3, other.execute, "COMMIT")
                await asyncio.gather(*(store.create_execution(_execution()) for _ in range(QUEUED)))
            finally:
                other.close()
            assert await _count_executions(store) == QUEUED

    run(body())
