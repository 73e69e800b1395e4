"""`Deadlines`: every PostgreSQL call ends by its timeout, whatever it waits for.

No server here: the waits are plain sleeps, and one stands in for psycopg, which on
cancellation asks the server to cancel and waits (up to 10 s) for its answer.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from skillbox_store.backends.postgres.deadline import Deadlines

TIMEOUT = 0.3
SLACK = 0.1


async def _bounded(deadlines: Deadlines, wait: float) -> None:
    with deadlines.start():
        await asyncio.sleep(wait)


async def _like_psycopg(deadlines: Deadlines, answered: list[str]) -> None:
    """A wait that answers its first cancellation by waiting again, as psycopg does."""
    with deadlines.start():
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            answered.append("polite")
            await asyncio.sleep(10)  # the server's answer to the cancel request
            raise


def test_a_call_past_its_deadline_raises_timeout_error() -> None:
    async def scenario() -> float:
        began = time.monotonic()
        with pytest.raises(TimeoutError):
            await _bounded(Deadlines(TIMEOUT), 10)
        return time.monotonic() - began

    assert TIMEOUT * 0.8 <= asyncio.run(scenario()) < TIMEOUT + SLACK


def test_a_wait_that_ignores_the_polite_cancel_is_cut_at_the_deadline() -> None:
    answered: list[str] = []

    async def scenario() -> float:
        began = time.monotonic()
        with pytest.raises(TimeoutError):
            await _like_psycopg(Deadlines(TIMEOUT), answered)
        return time.monotonic() - began

    took = asyncio.run(scenario())
    assert answered == ["polite"]
    assert TIMEOUT * 0.9 <= took < TIMEOUT + SLACK


def test_the_callers_own_cancellation_passes_through() -> None:
    async def scenario() -> None:
        task = asyncio.ensure_future(_bounded(Deadlines(10), 10))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert task.cancelled()

    asyncio.run(scenario())


def test_calls_in_time_are_untouched_and_each_has_its_own_deadline() -> None:
    """Many calls, most quick, some slow: only the slow ones end, each at its own time."""

    async def scenario() -> tuple[int, int, float]:
        deadlines = Deadlines(TIMEOUT)
        began = time.monotonic()

        async def staggered(number: int) -> bool:
            await asyncio.sleep(number * 0.01)
            try:
                await _bounded(deadlines, 10 if number % 10 == 0 else 0.01)
            except TimeoutError:
                return False
            return True

        outcomes = await asyncio.gather(*(staggered(n) for n in range(50)))
        return outcomes.count(True), outcomes.count(False), time.monotonic() - began

    done, cut, took = asyncio.run(scenario())
    assert (done, cut) == (45, 5)
    # The last slow call started at 0.4 s: it ends at its own deadline, not before.
    assert 0.4 + TIMEOUT * 0.8 <= took < 0.4 + TIMEOUT + SLACK
