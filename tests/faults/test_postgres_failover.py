"""Failover: the primary dies mid-workload, the standby is promoted, the store goes on.

On real parts: a primary and a synchronous streaming standby started by the test
(`replicated_server`), the store on a multi-host URL with
``target_session_attrs=read-write``, writers and readers running while the primary is
killed (``pg_ctl stop -m immediate``) and the standby promoted. Proved: no write the
store acknowledged is lost; the store reaches the new primary by itself, within a bound;
no call outlives its timeout; and a create whose outcome was unknown (its connection
cut off mid-commit) retried with the same id leaves exactly one record.

Also here, on a server of its own: a primary whose synchronous standby never answers
(what a promoted node still configured for its old standby does) hangs every commit;
each call gives up at its timeout, says the write may have committed, and gives its
connection back, so reads go on.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

import psycopg
import pytest
from replicated_server import ReplicatedServers, replicated_servers

from skillbox_store import Execution, NotFoundError, UnavailableError, open_store
from skillbox_store.testing_postgres import PostgresUnavailable, PrivateServer

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

TIMEOUT: Final = 2.0
# What a call may take beyond its timeout: the event loop's own scheduling on a busy
# two-core machine, not any wait of the store's.
SLACK: Final = 0.35
WRITERS: Final = 16
READERS: Final = 4
BEFORE_KILL: Final = 1.5
KILL_TO_PROMOTE: Final = 0.5
AFTER_PROMOTE: Final = 4.0
# From the standby's promotion to the first write the store completes on it.
RECOVERY_BOUND: Final = 10.0
TENANT: Final = "failover"


@pytest.fixture(scope="module")
def servers() -> Iterator[ReplicatedServers]:
    """A primary and its synchronous standby, of this module's own."""
    try:
        with replicated_servers() as running:
            yield running
    except PostgresUnavailable as exc:
        pytest.fail(f"PostgreSQL replication unavailable: {exc}", pytrace=False)


@dataclass
class _Tally:
    acknowledged: dict[str, Execution] = field(default_factory=dict)
    ambiguous: set[str] = field(default_factory=set)
    retried_ok: int = 0
    slowest: float = 0.0
    errors: list[str] = field(default_factory=list)
    first_write_after_promote: float | None = None
    promoted_at: float | None = None


def _execution(number: int) -> Execution:
    return Execution(
        skill_name="failover", skill_version="1", tenant_id=TENANT, input={"n": number}
    )


async def _timed(tally: _Tally, call: object) -> object:
    began = time.monotonic()
    try:
        return await call  # type: ignore[misc]
    finally:
        tally.slowest = max(tally.slowest, time.monotonic() - began)


async def _workload(servers: ReplicatedServers, tally: _Tally) -> None:
    async with open_store(servers.url, timeout=TIMEOUT, min_size=4, max_size=24) as store:
        stop = asyncio.Event()

        async def writer(number: int) -> None:
            count = 0
            while not stop.is_set():
                count += 1
                request = _execution(number * 1_000_000 + count)
                chosen = str(uuid.uuid4())
                while True:  # the same request, the same id, until it is known to be stored
                    try:
                        stored = await _timed(tally, store.create_execution(request, id=chosen))
                    except UnavailableError as exc:
                        if "may have been applied" in str(exc):
                            tally.ambiguous.add(chosen)
                        if stop.is_set():
                            return
                        await asyncio.sleep(0.05)
                        continue
                    assert isinstance(stored, Execution)
                    if chosen in tally.ambiguous:
                        tally.retried_ok += 1
                    tally.acknowledged[chosen] = stored
                    if tally.promoted_at is not None and tally.first_write_after_promote is None:
                        tally.first_write_after_promote = time.monotonic() - tally.promoted_at
                    break

        async def reader() -> None:
            while not stop.is_set():
                known = list(tally.acknowledged.values())[-50:]
                for execution in known:
                    try:
                        got = await _timed(tally, store.get_execution(TENANT, execution.id))
                    except UnavailableError:
                        await asyncio.sleep(0.05)
                        continue
                    except NotFoundError as exc:
                        tally.errors.append(f"acknowledged write not found: {exc}")
                        continue
                    if got != execution:
                        tally.errors.append(f"read {got!r}, acknowledged {execution!r}")
                await asyncio.sleep(0.01)

        tasks = [asyncio.create_task(writer(n)) for n in range(WRITERS)]
        tasks += [asyncio.create_task(reader()) for _ in range(READERS)]
        await asyncio.sleep(BEFORE_KILL)
        await asyncio.to_thread(servers.kill_primary)
        await asyncio.sleep(KILL_TO_PROMOTE)
        await asyncio.to_thread(servers.promote_standby)
        tally.promoted_at = time.monotonic()
        await asyncio.sleep(AFTER_PROMOTE)
        stop.set()
        await asyncio.gather(*tasks)


def test_failover_loses_no_acknowledged_write_and_recovers_by_itself(
    servers: ReplicatedServers,
) -> None:
    tally = _Tally()
    asyncio.run(_workload(servers, tally))
    context = (
        f"acknowledged={len(tally.acknowledged)} ambiguous={len(tally.ambiguous)} "
        f"retried_ok={tally.retried_ok} slowest={tally.slowest:.2f}s "
        f"recovery={tally.first_write_after_promote}\n{servers.log_tail()}"
    )
    assert not tally.errors, (tally.errors[:5], context)
    assert tally.acknowledged, context
    # Every acknowledged write is on the new primary, once, as acknowledged.
    with psycopg.connect(servers.standby.url(), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT id::text, input FROM sandbox.executions WHERE tenant_id = %s", (TENANT,)
        ).fetchall()
    stored = {row[0]: row[1] for row in rows}
    lost = [i for i in tally.acknowledged if i not in stored]
    assert not lost, (f"{len(lost)} acknowledged writes lost", context)
    # Ids are caller-chosen: a row no request chose, or one request stored twice,
    # would be a duplicate.
    assert len(rows) == len(stored), context
    unknown = set(stored) - set(tally.acknowledged) - tally.ambiguous
    assert not unknown, (f"{len(unknown)} rows no request made", context)
    for chosen, execution in tally.acknowledged.items():
        assert stored[chosen] == execution.input, context
    assert tally.first_write_after_promote is not None, context
    assert tally.first_write_after_promote < RECOVERY_BOUND, context
    assert tally.slowest < TIMEOUT + SLACK, context
    print(f"failover: {context.splitlines()[0]}")


def test_a_commit_that_waits_for_a_silent_standby_gives_up_at_the_timeout(
    private_postgres: PrivateServer,
) -> None:
    """Writes hang on commit; each gives up at its timeout; reads go on meanwhile."""
    admin = private_postgres.url.rsplit("/", 1)[0] + "/postgres"

    async def migrate() -> None:
        async with open_store(private_postgres.url, schema="hang"):
            pass

    asyncio.run(migrate())  # before commits hang: a migration commits too
    with psycopg.connect(admin, autocommit=True) as conn:
        # The test servers run with synchronous_commit=off on their command line; a
        # database's own setting overrides it for every new session.
        conn.execute("ALTER DATABASE skillbox_test SET synchronous_commit = on")
        conn.execute("ALTER SYSTEM SET synchronous_standby_names = 'nobody'")
        conn.execute("SELECT pg_reload_conf()")
    try:

        async def scenario() -> tuple[list[BaseException], float, float]:
            # Four connections, four writes a round: each write hangs in its COMMIT.
            async with open_store(
                private_postgres.url,
                schema="hang",
                migrate=False,
                timeout=1.0,
                min_size=2,
                max_size=4,
            ) as store:
                errors: list[BaseException] = []
                rounds: list[float] = []
                for _ in range(2):  # a second round finds the first's connections free
                    began = time.monotonic()
                    outcomes = await asyncio.gather(
                        *(store.create_execution(_execution(n)) for n in range(4)),
                        return_exceptions=True,
                    )
                    rounds.append(time.monotonic() - began)
                    errors += [o for o in outcomes if isinstance(o, BaseException)]
                began = time.monotonic()
                # Reads need no commit: the connections the hung writes held are free.
                assert await store.list_executions(TENANT) is not None
                return errors, max(rounds), time.monotonic() - began

        errors, slowest_round, read_took = asyncio.run(scenario())
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("ALTER SYSTEM RESET synchronous_standby_names")
            conn.execute("SELECT pg_reload_conf()")
            conn.execute("ALTER DATABASE skillbox_test RESET synchronous_commit")
    assert len(errors) == 8, errors
    for error in errors:
        assert isinstance(error, UnavailableError), repr(error)
        assert "may have been applied" in str(error), str(error)
    assert slowest_round < 1.0 + SLACK, slowest_round
    assert read_took < 1.0, read_took


def test_the_pool_keeps_reconnecting_through_a_long_outage(
    private_postgres: PrivateServer,
) -> None:
    """Down longer than the pool's reconnection window, then back: calls resume at once.

    psycopg_pool gives up reconnecting after ``reconnect_timeout`` and doubles its
    wait between attempts until then; the store restarts it on every give-up, so the
    attempts never stop and never drift far apart. Calls during the outage fail within
    their timeout.
    """
    outage = 10.0  # longer than two reconnection windows

    async def scenario() -> tuple[float, float]:
        async with open_store(
            private_postgres.url, schema="outage", timeout=1.0, min_size=2, max_size=4
        ) as store:
            await store.ping()
            await asyncio.to_thread(private_postgres.stop, "immediate")
            slowest = 0.0
            ends = time.monotonic() + outage
            while time.monotonic() < ends:
                began = time.monotonic()
                with pytest.raises(UnavailableError):
                    await store.ping()
                slowest = max(slowest, time.monotonic() - began)
                await asyncio.sleep(0.2)
            await asyncio.to_thread(private_postgres.start)
            back = time.monotonic()
            while True:
                try:
                    await store.ping()
                    return time.monotonic() - back, slowest
                except UnavailableError:
                    await asyncio.sleep(0.05)

    resumed, slowest = asyncio.run(scenario())
    assert slowest < 1.0 + SLACK, slowest
    # psycopg_pool alone: 3.6 s here (its next attempt up to 8 s after the last).
    assert resumed < 2.5, resumed
    print(f"long outage: calls resumed {resumed:.2f} s after the server was back")
