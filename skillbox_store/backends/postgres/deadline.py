"""`Deadlines`: the client-side bound on every store call, statement and commit included.

psycopg answers a cancelled task by asking the server to cancel the running statement
and then waiting, up to 5 s and again up to 5 s, for the server to say it did: on a
server that cannot be reached that wait alone outlives any timeout a caller set. So a
call is cancelled twice: shortly before its deadline (psycopg's polite cancel, which
leaves the connection usable when the server answers in time; PgBouncer forwards it)
and at the deadline itself, which ends psycopg's wait; the connection, left mid-query,
is then closed by the pool instead of being lent again.

One timer serves every call of a store. All its calls have the same timeout, so their
deadlines come in the order the calls started: the calls in flight form a queue whose
head has the earliest deadline, and the one timer waits for the head. A call that ends
only marks its entry; the timer, when it fires, drops the ended entries and waits for
the next live one. Per call that is an entry appended and marked, not a timer handle
scheduled and cancelled (which is what `asyncio.timeout` costs, about 3 µs a call: a
tenth of the store's own work on a point read).
"""

from __future__ import annotations

import asyncio
from collections import deque
from types import TracebackType
from typing import Final

__all__ = ["Deadline", "Deadlines"]

# How long before the deadline the polite cancel is sent: long enough for a live
# server's answer on loopback or a LAN, a small part of any sensible timeout.
_GRACE: Final = 0.2
_GRACE_SHARE: Final = 0.1


class Deadline:
    """One call's bound: ``with deadlines.start() as bound:`` raises `TimeoutError` late.

    Like `asyncio.timeout`, it converts only its own cancellations, so a caller's
    cancellation passes through as `asyncio.CancelledError`.
    """

    __slots__ = ("_cancelling", "_cancels", "_hard", "_loop", "ended", "polite_at", "task", "when")

    def __init__(
        self,
        task: asyncio.Task[object],
        loop: asyncio.AbstractEventLoop,
        when: float,
        polite_at: float,
    ) -> None:
        """Bound ``task`` to ``when`` (loop time); the polite cancel goes at ``polite_at``."""
        self.task = task
        self._loop = loop
        self.when = when
        self.polite_at = polite_at
        self.ended = False
        self._cancels = 0
        self._cancelling = task.cancelling()
        self._hard: asyncio.TimerHandle | None = None

    def left(self) -> float:
        """Seconds until the polite cancel: what a wait inside the block may take."""
        return max(0.0, self.polite_at - self._loop.time())

    def cancel_politely(self) -> None:
        """Cancel the task (psycopg then asks the server to cancel), and again at ``when``."""
        self._cancels += 1
        self.task.cancel()
        self._hard = self._loop.call_at(self.when, self._cancel_hard)

    def _cancel_hard(self) -> None:
        self._hard = None
        if not self.ended:
            self._cancels += 1
            self.task.cancel()

    def __enter__(self) -> Deadline:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.ended = True
        if not self._cancels:
            return
        if self._hard is not None:
            self._hard.cancel()
            self._hard = None
        remaining = self.task.cancelling()
        for _ in range(self._cancels):
            remaining = self.task.uncancel()
        if exc_type is asyncio.CancelledError and remaining <= self._cancelling:
            raise TimeoutError from exc


class Deadlines:
    """The deadlines of one store's calls, all ``timeout`` seconds long, on one timer."""

    __slots__ = ("_queue", "_timer", "polite", "timeout")

    def __init__(self, timeout: float) -> None:
        """Bound each call to ``timeout`` seconds from its start."""
        self.timeout = timeout
        self.polite = timeout - min(_GRACE, timeout * _GRACE_SHARE)
        self._queue: deque[Deadline] = deque()
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> Deadline:
        """Start the current task's call: its deadline is ``timeout`` from now."""
        task = asyncio.current_task()
        if task is None:  # pragma: no cover - a coroutine always runs in a task here
            raise RuntimeError("a store call must run inside a task")
        loop = task.get_loop()
        now = loop.time()
        deadline = Deadline(task, loop, now + self.timeout, now + self.polite)
        queue = self._queue
        # Calls end roughly in the order they started: the ended ones at the head go
        # here, so the queue holds about the calls in flight, not every recent call.
        while queue and queue[0].ended:
            queue.popleft()
        queue.append(deadline)
        if self._timer is None:
            self._timer = loop.call_at(deadline.polite_at, self._fire, loop)
        return deadline

    def _fire(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        queue = self._queue
        now = loop.time()
        while queue:
            head = queue[0]
            if head.ended:
                queue.popleft()
            elif head.polite_at <= now:
                queue.popleft()
                head.cancel_politely()
            else:
                self._timer = loop.call_at(head.polite_at, self._fire, loop)
                return
