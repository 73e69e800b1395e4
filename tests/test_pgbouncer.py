"""The store behind Debian's PgBouncer, with its defaults: no wrong answer, no leak.

Before this was proved here, ``validate_key`` accepted a revoked key thousands of times
in a few seconds behind PgBouncer's transaction pooling: psycopg prepared the two key
lookups (same parameter, same columns) on server connections that PgBouncer then lent
to other clients, where a statement of the same name was the other lookup. These tests
race the calls that can be confused, check every answer, run the whole contract suite
through the pooler in both its modes, and look for settings left on server connections.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import psycopg
import pytest
from contract_suite_run import run_contract_suite
from pgbouncer_server import PgBouncer, PoolMode, pgbouncer

from skillbox_store import Execution, StoreError, UnavailableError, hash_key, open_store
from skillbox_store.backends.postgres.errors import PREPARED_BEHIND_POOLER
from skillbox_store.testing_postgres import PostgresUnavailable, application_url

pytestmark = pytest.mark.postgres

RACE_SECONDS: Final = 3.0
RACERS: Final = 64
REPOSITORY: Final = Path(__file__).resolve().parent.parent
# The part of the pooler error that does not depend on the SQLSTATE met.
POOLER_HINT: Final = PREPARED_BEHIND_POOLER.split("(SQLSTATE")[0]


def _bouncer(server_url: str, mode: PoolMode, pool_size: int = 4) -> Iterator[PgBouncer]:
    try:
        with pgbouncer(server_url, mode, pool_size=pool_size) as running:
            yield running
    except PostgresUnavailable as exc:
        pytest.fail(f"PgBouncer unavailable: {exc}", pytrace=False)


@pytest.fixture(scope="module")
def app_url(postgres_url: str) -> str:
    """The server as the application role: row-level security in force through the pooler."""
    try:
        return application_url(postgres_url)
    except PostgresUnavailable as exc:
        pytest.fail(f"PostgreSQL unavailable: {exc}", pytrace=False)


@pytest.fixture(scope="module")
def transaction_bouncer(app_url: str) -> Iterator[PgBouncer]:
    """PgBouncer in transaction mode, few server connections: every client shares them."""
    yield from _bouncer(app_url, "transaction")


@pytest.fixture(scope="module")
def session_bouncer(app_url: str) -> Iterator[PgBouncer]:
    """PgBouncer in session mode."""
    yield from _bouncer(app_url, "session", pool_size=20)


def _with_query(url: str, **query: str) -> str:
    extra = "&".join(f"{name}={value}" for name, value in query.items())
    return f"{url}{'&' if '?' in url else '?'}{extra}"


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _race(url: str, **options: Any) -> tuple[Counter[str], list[BaseException]]:
    """Race the calls that can be confused with each other; return what was wrong.

    Two keys (one revoked) looked up both ways, and two executions of two tenants, by
    many tasks at once: every answer is checked against what was written.
    """
    wrong: Counter[str] = Counter()
    errors: list[BaseException] = []
    async with open_store(url, max_size=16, **options) as store:
        valid_hash, revoked_hash = hash_key(uuid.uuid4().hex), hash_key(uuid.uuid4().hex)
        valid = await store.create_key("race-a", "valid", valid_hash)
        revoked = await store.create_key("race-b", "revoked", revoked_hash)
        await store.revoke_key("race-b", revoked.id)
        runs = [
            await store.create_execution(
                Execution(
                    skill_name=f"skill-{tenant}",
                    skill_version="1",
                    tenant_id=tenant,
                    input={"t": tenant},
                )
            )
            for tenant in ("race-a", "race-b")
        ]
        stop = time.monotonic() + RACE_SECONDS

        async def racer(number: int) -> None:
            while time.monotonic() < stop:
                try:
                    step = number % 6
                    if step == 0:
                        if await store.validate_key(revoked_hash) is not None:
                            wrong["revoked key validated"] += 1
                    elif step == 1:
                        found = await store.validate_key(valid_hash)
                        if found is None or found.id != valid.id:
                            wrong["valid key refused"] += 1
                    elif step == 2:
                        key = await store.get_key_by_hash(revoked_hash)
                        if key.id != revoked.id or key.revoked_at is None:
                            wrong["revoked key read wrong"] += 1
                    elif step == 3:
                        key = await store.get_key_by_hash(valid_hash)
                        if key.id != valid.id or key.revoked_at is not None:
                            wrong["valid key read wrong"] += 1
                    else:
                        run = runs[step - 4]
                        got = await store.get_execution(run.tenant_id, run.id)
                        if got != run:
                            wrong["execution read wrong"] += 1
                except StoreError as exc:
                    errors.append(exc)

        await asyncio.gather(*(racer(n) for n in range(RACERS)))
    return wrong, errors


def test_racing_lookups_behind_transaction_pooling_give_no_wrong_answer(
    transaction_bouncer: PgBouncer,
) -> None:
    """The store's defaults behind PgBouncer in transaction mode: every answer right."""
    url = _with_query(transaction_bouncer.url, schema=f"race_{uuid.uuid4().hex[:8]}")
    wrong, errors = _run(_race(url))
    assert not wrong, dict(wrong)
    assert not errors, [str(e) for e in errors[:5]]


def test_prepared_statements_behind_the_pooler_are_named_as_the_cause(
    transaction_bouncer: PgBouncer,
) -> None:
    """Told to prepare behind the pooler, the store fails with the one line that says why.

    The race has teeth: with statements prepared at once, the mix-up shows (as wrong
    answers, which is why preparing is off by default, or as errors). Every error is
    the store's pooler error, never a driver error and never a retried "dead" connection.
    Row-level security off: with it, every tenant statement goes with its declaration
    as one simple query, which psycopg never prepares.
    """
    url = _with_query(
        transaction_bouncer.url,
        schema=f"race_{uuid.uuid4().hex[:8]}",
        prepare_threshold="0",
        rls="off",
    )
    try:
        wrong, errors = _run(_race(url))
    except StoreError as exc:  # setting up the race met the mix-up already
        wrong, errors = Counter(), [exc]
    assert wrong or errors, "prepared statements behind transaction pooling went unnoticed"
    for error in errors:
        assert POOLER_HINT in str(error), str(error)
        assert "prepare_threshold=None" in str(error)


async def _write_in_a_block(url: str) -> None:
    async with (
        open_store(url, min_size=1, max_size=1) as store,
        store.transaction() as tx,
    ):
        await tx.create_key("leak", "k", hash_key(uuid.uuid4().hex))


def test_nothing_is_left_on_a_pooled_server_connection(app_url: str) -> None:
    """Migrations, blocks with a lock_timeout and tenant declarations leave nothing behind.

    One server connection behind the pooler, so the next client's transaction runs on
    exactly the connection the store used.
    """
    for running in _bouncer(app_url, "transaction", pool_size=1):
        url = _with_query(running.url, schema=f"leak_{uuid.uuid4().hex[:8]}", lock_timeout="0.25")
        _run(_write_in_a_block(url))
        with psycopg.connect(running.url, autocommit=True) as conn:
            settings = conn.execute(
                "SELECT current_setting('lock_timeout'), current_setting('statement_timeout'),"
                " current_setting('search_path'),"
                " coalesce(current_setting('skillbox.tenant_id', true), '')"
            ).fetchone()
        assert settings == ("0", "0", '"$user", public', ""), settings


def test_a_row_lock_wait_behind_the_pooler_ends_at_the_timeout(
    transaction_bouncer: PgBouncer,
) -> None:
    """The call's deadline cancels the statement through PgBouncer, which forwards it."""
    url = _with_query(transaction_bouncer.url, schema=f"lock_{uuid.uuid4().hex[:8]}")

    async def scenario() -> tuple[BaseException | None, float]:
        async with open_store(url, timeout=1.0) as store:
            run = await store.create_execution(
                Execution(skill_name="s", skill_version="1", tenant_id="t")
            )
            done = run.model_copy(update={"status": "success"})
            held, release = asyncio.Event(), asyncio.Event()

            async def hold() -> None:
                async with store.transaction() as tx:
                    await tx.update_execution(done)
                    held.set()
                    await release.wait()

            holder = asyncio.create_task(hold())
            await held.wait()
            began = time.monotonic()
            error: BaseException | None = None
            try:
                await store.update_execution(done)
            except UnavailableError as exc:
                error = exc
            waited = time.monotonic() - began
            release.set()
            await holder
            return error, waited

    error, waited = _run(scenario())
    assert isinstance(error, UnavailableError), error
    assert 0.8 <= waited < 1.0 + 0.3, waited


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["transaction", "session"])
def test_the_contract_suite_passes_through_pgbouncer(
    mode: PoolMode, transaction_bouncer: PgBouncer, session_bouncer: PgBouncer
) -> None:
    """The whole contract suite, as a backend author runs it, against the pooled URL."""
    running = transaction_bouncer if mode == "transaction" else session_bouncer
    url = _with_query(running.url, schema=f"contract_{mode}_{uuid.uuid4().hex[:6]}")
    run = run_contract_suite(url, timeout=900)
    assert run.returncode == 0, (
        f"contract suite through PgBouncer ({mode}) failed: {run.failure()}\n{running.log_tail()}"
    )
    print(f"contract suite through PgBouncer ({mode}): {run.summary}")
