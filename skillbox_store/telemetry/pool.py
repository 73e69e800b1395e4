"""Connection pool health: what `status` shows, and the pool's observable metrics.

Both read psycopg_pool's ``get_stats()``: counters kept since the pool opened
(requests, queued requests, their total wait, failed requests, failed and lost
connections) and the pool's current shape (size, idle connections, waiting clients).
Reading them costs no I/O and no lock, so a metric callback can call it at every
collection. A store has a pool when it has a ``pool`` attribute with ``get_stats``
(`PostgresStore`, and a third-party backend that exposes one the same way): this module
never imports a backend, as the command line reaches backends only through
`open_store`.

Metrics follow semconv's connection-pool instruments where the stats give their value:
``db.client.connection.count`` (by ``db.client.connection.state``: ``idle``,
``used``), ``db.client.connection.max``, ``db.client.connection.idle.min``,
``db.client.connection.pending_requests`` and ``db.client.connection.timeouts``.
Semconv's ``db.client.connection.wait_time`` is a histogram of each wait, which the
pool does not report one by one; the totals it keeps are ``skillbox.pool.wait_time``
(seconds waited, summed) and ``skillbox.pool.waits`` (requests that had to wait), whose
ratio is the mean wait. ``skillbox.pool.errors`` counts failures by
``skillbox.pool.error``: ``request`` (a caller got no connection: timeout, queue
full), ``connect`` (opening a connection failed), ``lost`` (a connection found
broken), ``returned_bad`` (a connection given back broken).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

from skillbox_store.errors import StoreError, UnavailableError
from skillbox_store.telemetry.attributes import POOL_NAME, POOL_STATE

if TYPE_CHECKING:
    from opentelemetry.metrics import CallbackOptions, Meter, MeterProvider, Observation

__all__ = ["POOL_ERROR", "PoolHealth", "StatsPool", "observe_pool", "pool_health", "pool_of"]

POOL_ERROR: Final = "skillbox.pool.error"
"""The kind of a pool failure in ``skillbox.pool.errors``."""

_ERRORS: Final = (
    ("request", "requests_errors"),
    ("connect", "connections_errors"),
    ("lost", "connections_lost"),
    ("returned_bad", "returns_bad"),
)


@runtime_checkable
class StatsPool(Protocol):
    """A connection pool that reports psycopg_pool's statistics."""

    def get_stats(self) -> dict[str, int]:
        """Return the pool's counters and current measures, by psycopg_pool's names."""
        ...


def pool_of(store: object) -> StatsPool | None:
    """Return the store's connection pool when it has one that reports statistics."""
    try:
        pool = getattr(store, "pool", None)
    except Exception:
        # A third-party store's property may raise (closed, not opened yet).
        return None
    return pool if isinstance(pool, StatsPool) else None


@dataclass(frozen=True, slots=True)
class PoolHealth:
    """The state of a store's connection pool, and its server's version.

    Attributes:
        size: connections open now, in use or idle (``min_size`` ≤ size ≤ ``max_size``).
        in_use: connections lent to calls (and ``transaction()`` blocks) now.
        idle: connections waiting in the pool now.
        waiting: calls waiting for a connection now.
        min_size: connections the pool keeps open.
        max_size: connections the pool opens at most.
        requests: connections asked for since the pool opened.
        waited: of those, how many had to wait for one.
        wait_ms: the time they waited, summed, in milliseconds.
        errors: failures since the pool opened, by kind (see the module): ``request``,
            ``connect``, ``lost``, ``returned_bad``.
        server_version: the server's version (``"16.4"``), or None when no connection
            could tell it.
    """

    size: int
    in_use: int
    idle: int
    waiting: int
    min_size: int
    max_size: int
    requests: int
    waited: int
    wait_ms: int
    errors: Mapping[str, int]
    server_version: str | None

    @property
    def errors_total(self) -> int:
        """Every failure since the pool opened, of any kind."""
        return sum(self.errors.values())

    def as_json(self) -> dict[str, Any]:
        """Return the health as a JSON-ready document (``status --json``)."""
        document = asdict(self)
        document["errors"] = dict(self.errors)
        document["errors_total"] = self.errors_total
        return document


def _version(number: int) -> str:
    """``160004`` → ``"16.4"``: libpq's integer for PostgreSQL 10 and later."""
    major, minor = divmod(number, 10_000)
    return f"{major}.{minor}"


def _scaled(value: int, divisor: int) -> int | float:
    # Counters in milliseconds become seconds (semconv's unit); counts stay ints.
    return value if divisor == 1 else value / divisor


def _from_stats(stats: Mapping[str, int], server_version: str | None) -> PoolHealth:
    size = stats.get("pool_size", 0)
    idle = stats.get("pool_available", 0)
    return PoolHealth(
        size=size,
        # The size counts connections being opened too; never report fewer than none.
        in_use=max(0, size - idle),
        idle=idle,
        waiting=stats.get("requests_waiting", 0),
        min_size=stats.get("pool_min", 0),
        max_size=stats.get("pool_max", 0),
        requests=stats.get("requests_num", 0),
        waited=stats.get("requests_queued", 0),
        wait_ms=stats.get("requests_wait_ms", 0),
        errors={kind: stats.get(key, 0) for kind, key in _ERRORS},
        server_version=server_version,
    )


async def pool_health(store: object) -> PoolHealth | None:
    """Return the health of ``store``'s connection pool; None for a store without one.

    The server's version is read from a pooled connection's handshake (no statement),
    so asking costs one connection from the pool, as ``ping`` does; the pool's figures
    are read before it, so that asking does not count itself.

    Raises:
        UnavailableError: no connection could be had within the pool's timeout.
        StoreError: the store is closed.
    """
    pool = pool_of(store)
    if pool is None:
        return None
    stats = pool.get_stats()
    connection = getattr(pool, "connection", None)
    version: str | None = None
    if callable(connection):
        try:
            async with connection() as conn:
                number = conn.info.server_version
        except StoreError:
            raise
        except Exception as exc:
            # The pool's own errors (closed, timeout) and the driver's: the only store
            # errors this can be are "unavailable"; the pool's text holds no password.
            raise UnavailableError(f"the pool could not lend a connection: {exc}") from exc
        version = _version(number) if isinstance(number, int) and number > 0 else None
    return _from_stats(stats, version)


class _PoolGauges:
    """The pool instruments of one meter, observing every instrumented store's pool.

    One per meter, because an SDK meter keeps the callbacks of the first registration
    of an instrument name and drops any later one's: a second store registering its own
    callback would never be observed. Pools are held weakly, and dropped when their
    store closes, so a closed store stops reporting.
    """

    def __init__(self, meter: Meter) -> None:
        self.pools: weakref.WeakKeyDictionary[StatsPool, str] = weakref.WeakKeyDictionary()
        meter.create_observable_up_down_counter(
            "db.client.connection.count",
            [self._count],
            unit="{connection}",
            description="Connections open now, by state (idle, used).",
        )
        self._gauge(meter, "db.client.connection.max", "pool_max", "{connection}")
        self._gauge(meter, "db.client.connection.idle.min", "pool_min", "{connection}")
        self._gauge(meter, "db.client.connection.pending_requests", "requests_waiting", "{request}")
        meter.create_observable_counter(
            "db.client.connection.timeouts",
            [self._counter("requests_errors", 1)],
            unit="{timeout}",
            description="Requests for a connection that failed (timeout, queue full).",
        )
        meter.create_observable_counter(
            "skillbox.pool.wait_time",
            [self._counter("requests_wait_ms", 1000)],
            unit="s",
            description="Time callers waited for a connection, summed since the pool opened.",
        )
        meter.create_observable_counter(
            "skillbox.pool.waits",
            [self._counter("requests_queued", 1)],
            unit="{request}",
            description="Requests for a connection that had to wait.",
        )
        meter.create_observable_counter(
            "skillbox.pool.errors",
            [self._errors],
            unit="{error}",
            description="Pool failures since it opened, by skillbox.pool.error.",
        )

    def add(self, pool: StatsPool, name: str) -> None:
        """Observe ``pool`` under ``name``, made unique among the pools observed.

        Semconv wants the pool name unique in the process, and the SDK adds up two
        observations with the same attributes: two stores on one database and schema
        would show as one pool of twice the size. The second is ``name#2``.
        """
        taken = set(self.pools.values())
        unique, count = name, 1
        while unique in taken:
            count += 1
            unique = f"{name}#{count}"
        self.pools[pool] = unique

    def _stats(self) -> Iterator[tuple[str, Mapping[str, int]]]:
        for pool, name in list(self.pools.items()):
            try:
                yield name, pool.get_stats()
            except Exception:
                # A pool closed meanwhile: one collection without it, not a failed export.
                continue

    def _gauge(self, meter: Meter, name: str, key: str, unit: str) -> None:
        meter.create_observable_up_down_counter(
            name, [self._counter(key, 1)], unit=unit, description=f"psycopg_pool's {key}."
        )

    def _counter(
        self, key: str, divisor: int
    ) -> Callable[[CallbackOptions], Iterable[Observation]]:
        from opentelemetry.metrics import Observation

        def observe(options: CallbackOptions) -> Iterable[Observation]:
            return [
                Observation(_scaled(stats.get(key, 0), divisor), {POOL_NAME: name})
                for name, stats in self._stats()
            ]

        return observe

    def _count(self, options: CallbackOptions) -> Iterable[Observation]:
        from opentelemetry.metrics import Observation

        found: list[Observation] = []
        for name, stats in self._stats():
            health = _from_stats(stats, None)
            for state, value in (("idle", health.idle), ("used", health.in_use)):
                attributes = {POOL_NAME: name, POOL_STATE: state}
                found.append(Observation(value, attributes))
        return found

    def _errors(self, options: CallbackOptions) -> Iterable[Observation]:
        from opentelemetry.metrics import Observation

        return [
            Observation(stats.get(key, 0), {POOL_NAME: name, POOL_ERROR: kind})
            for name, stats in self._stats()
            for kind, key in _ERRORS
        ]


# By meter provider, not by meter: the API's placeholder provider hands out a new
# meter at each call, and each would register the instruments again.
_GAUGES: weakref.WeakKeyDictionary[MeterProvider, _PoolGauges] = weakref.WeakKeyDictionary()


def observe_pool(provider: MeterProvider, pool: StatsPool, name: str) -> Callable[[], None]:
    """Report ``pool`` under ``name`` to ``provider``; return what stops it."""
    from skillbox_store._version import __version__

    gauges = _GAUGES.get(provider)
    if gauges is None:
        meter = provider.get_meter("skillbox_store", __version__)
        gauges = _GAUGES[provider] = _PoolGauges(meter)
    gauges.add(pool, name)

    def stop() -> None:
        gauges.pools.pop(pool, None)

    return stop
