"""PostgreSQL under telemetry: pool metrics, pool health, psycopg's own SQL spans.

* The pool's ``db.client.connection.*`` instruments report its size, idle and used
  connections, waiting callers, and stop reporting once the store is closed.
* `pool_health` reads the pool's statistics and the server's version, through an
  instrumented store as through a bare one; it is None for a store without a pool.
* With ``opentelemetry-instrumentation-psycopg``, the driver's SQL spans are children of
  the store's span: never siblings, never duplicates of it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Iterator
from typing import Any, TypeVar

import pytest
from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from skillbox_store import open_store
from skillbox_store.telemetry import PoolHealth, Telemetry, pool_health

T = TypeVar("T")


def run(awaitable: Awaitable[T]) -> T:
    async def main() -> T:
        async with asyncio.timeout(60):
            return await awaitable

    return asyncio.run(main())


@pytest.fixture
def reader() -> Iterator[tuple[InMemoryMetricReader, MeterProvider]]:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    yield reader, provider
    provider.shutdown()


def points(reader: InMemoryMetricReader, name: str) -> list[Any]:
    data = reader.get_metrics_data()
    if data is None:
        return []
    return [
        point
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == name
        for point in metric.data.data_points
    ]


def test_the_pools_metrics_while_open_and_none_after_close(
    postgres_url: str, pg_schema: str, reader: tuple[InMemoryMetricReader, MeterProvider]
) -> None:
    metrics, provider = reader
    telemetry = Telemetry(meter_provider=provider)
    seen: dict[str, Any] = {}

    async def scenario() -> None:
        async with open_store(
            postgres_url, schema=pg_schema, min_size=2, max_size=3, telemetry=telemetry
        ) as store, store.transaction() as tx:
            await tx.list_keys("acme")
            # One connection lent to the block while the metrics are read.
            seen["count"] = points(metrics, "db.client.connection.count")
            seen["max"] = points(metrics, "db.client.connection.max")
            seen["pending"] = points(metrics, "db.client.connection.pending_requests")
            seen["errors"] = points(metrics, "skillbox.pool.errors")
        seen["after"] = points(metrics, "db.client.connection.count")

    run(scenario())
    by_state = {point.attributes["db.client.connection.state"]: point for point in seen["count"]}
    assert by_state["used"].value == 1
    assert by_state["idle"].value >= 1
    names = {point.attributes["db.client.connection.pool.name"] for point in seen["count"]}
    assert len(names) == 1
    (name,) = names
    assert name.endswith(f"|{pg_schema}")
    assert "@" not in name
    assert [point.value for point in seen["max"]] == [3]
    assert [point.value for point in seen["pending"]] == [0]
    kinds = {point.attributes["skillbox.pool.error"] for point in seen["errors"]}
    assert kinds == {"request", "connect", "lost", "returned_bad"}
    # The store closed: its pool is no longer observed.
    assert all(point.attributes["db.client.connection.pool.name"] != name
               for point in seen["after"])


def test_two_stores_on_one_meter_provider_both_report_their_pools(
    postgres_url: str, pg_schema: str, reader: tuple[InMemoryMetricReader, MeterProvider]
) -> None:
    metrics, provider = reader
    telemetry = Telemetry(meter_provider=provider)
    seen: list[Any] = []

    async def scenario() -> None:
        async with (
            open_store(postgres_url, schema=pg_schema, min_size=1, telemetry=telemetry),
            open_store(postgres_url, schema=pg_schema, min_size=1, max_size=7, telemetry=telemetry),
        ):
            seen.extend(points(metrics, "db.client.connection.max"))

    run(scenario())
    assert sorted(point.value for point in seen) == [7, 10]


def test_pool_health(postgres_url: str, pg_schema: str) -> None:
    async def scenario() -> tuple[PoolHealth | None, PoolHealth | None, PoolHealth | None]:
        async with (
            open_store(postgres_url, schema=pg_schema, min_size=2, max_size=4) as bare,
            bare.transaction(),
        ):
            during = await pool_health(bare)
        async with open_store(
            postgres_url, schema=pg_schema, min_size=1, max_size=2, telemetry=True
        ) as wrapped:
            through_proxy = await pool_health(wrapped)
        async with open_store("memory://") as memory:
            none = await pool_health(memory)
        return during, through_proxy, none

    during, through_proxy, none = run(scenario())
    assert during is not None
    assert through_proxy is not None
    assert during.size == 2
    assert during.min_size == 2
    assert during.max_size == 4
    assert during.in_use == 1
    assert during.idle == 1
    assert during.waiting == 0
    assert during.requests >= 1
    assert during.errors_total == 0
    assert during.server_version is not None
    assert re.fullmatch(r"\d+\.\d+", during.server_version)
    document = during.as_json()
    assert document["errors"] == {"request": 0, "connect": 0, "lost": 0, "returned_bad": 0}
    assert document["in_use"] == 1
    assert through_proxy.max_size == 2
    assert none is None


def test_psycopgs_sql_spans_are_children_of_the_store_span(
    postgres_url: str, pg_schema: str
) -> None:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    instrumentor = PsycopgInstrumentor()
    instrumentor.instrument(tracer_provider=provider, skip_dep_check=True)
    try:

        async def scenario() -> None:
            async with open_store(
                postgres_url, schema=pg_schema, telemetry=Telemetry(tracer_provider=provider)
            ) as store:
                spans.clear()  # opening's own statements (migrations) are no store call
                await store.ping()
                await store.validate_key("ab" * 32)
                async with store.transaction() as tx:
                    await tx.get_or_create_session("acme", "ext")
                    await tx.list_keys("acme")

        run(scenario())
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
    finished = list(spans.get_finished_spans())
    ours = {
        span.context.span_id: span
        for span in finished
        if span.instrumentation_scope is not None
        and span.instrumentation_scope.name == "skillbox_store"
    }
    sql = [span for span in finished if span.context.span_id not in ours]
    operations = sorted(span.name.split(" ")[0] for span in ours.values())
    assert operations == [
        "close", "get_or_create_session", "list_keys", "ping", "transaction", "validate_key"
    ]
    # Every statement psycopg traced ran inside a store call, as its child.
    for span in sql:
        assert span.kind is SpanKind.CLIENT
        assert span.parent is not None, span.name
        assert span.parent.span_id in ours, span.name
    ping = next(span for span in ours.values() if span.name.startswith("ping "))
    # psycopg names a statement sent as bytes after the database: one per round trip.
    under_ping = [s for s in sql if s.parent and s.parent.span_id == ping.context.span_id]
    assert len(under_ping) == 1
    # The tenant statements too, sent with their row-level-security declaration through
    # the connection's cursor factory, which the instrumentation wraps.
    for operation in ("validate_key", "get_or_create_session", "list_keys"):
        store_span = next(s for s in ours.values() if s.name.startswith(f"{operation} "))
        children = [s for s in sql if s.parent and s.parent.span_id == store_span.context.span_id]
        assert len(children) == 1, operation
