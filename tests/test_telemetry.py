"""OpenTelemetry spans and metrics of store calls, on every backend (issue 23).

Each test opens a store with SDK providers of its own (in-memory span exporter and
metric reader), passed as `Telemetry`: the global providers stay unset, so the rest of
the session runs with telemetry off. What is proved, per backend:

* every `Store` method and capability method makes one CLIENT span, named
  ``"{db.operation.name} {db.namespace}"``, with the documented attributes, and one
  ``db.client.operation.duration`` measurement;
* a ``transaction()`` block is a span whose calls (and nested block) are its children,
  under the caller's own span;
* a failed call's span has status ERROR and ``error.type``, and is counted by class;
* the tenant id is on spans only when opted in, and never on metrics;
* no password anywhere: span names, attributes, statuses, metric attributes.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import uuid
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit, urlunsplit

import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from skillbox_store import (
    Execution,
    File,
    FileFilter,
    InvalidArgumentError,
    NotFoundError,
    SkillRecord,
    Store,
    StoreError,
    generate_key,
    open_store,
)
from skillbox_store.capabilities import CAPABILITIES, declared, supports
from skillbox_store.telemetry import Telemetry
from skillbox_store.telemetry.proxy import InstrumentedStore

T = TypeVar("T")

TENANT: Final = "tenant-7f3a9c"
"""A tenant id distinctive enough to search every exported byte for."""

PASSWORD: Final = "Pw-s3cr3t@9Zq"
PASSWORD_IN_URL: Final = "Pw-s3cr3t%409Zq"

BACKENDS: Final = ("memory", "sqlite", "postgres")


def run(awaitable: Awaitable[T]) -> T:
    """Run one scenario on a fresh event loop."""

    async def main() -> T:
        async with asyncio.timeout(60):
            return await awaitable

    return asyncio.run(main())


@dataclass
class Otel:
    """SDK providers of one test, and what they collected."""

    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    def telemetry(self, *, record_tenant_id: bool = False) -> Telemetry:
        return Telemetry(record_tenant_id, self.tracer_provider, self.meter_provider)

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def metric_points(self, name: str) -> list[Any]:
        data = self.metrics.get_metrics_data()
        assert data is not None
        return [
            point
            for resource in data.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
            if metric.name == name
            for point in metric.data.data_points
        ]

    def everything(self) -> str:
        """Every span and metric exported, as text: what a backend would receive."""
        spans = [span.to_json() for span in self.finished()]
        data = self.metrics.get_metrics_data()
        return "\n".join([*spans, data.to_json() if data is not None else ""])


@pytest.fixture
def otel() -> Iterator[Otel]:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    yield Otel(spans, reader, tracer_provider, meter_provider)
    tracer_provider.shutdown()
    meter_provider.shutdown()


def with_password(url: str) -> str:
    """``url`` with PASSWORD as its user's password (the test server trusts any)."""
    parts = urlsplit(url)
    user = parts.username or "postgres"
    host = parts.hostname or "127.0.0.1"
    netloc = f"{user}:{PASSWORD_IN_URL}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass(frozen=True)
class Target:
    """How to open one backend, and what its spans should say."""

    url: str
    options: dict[str, Any]
    system: str
    namespace: str


@pytest.fixture(params=BACKENDS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    if request.param == "memory":
        return Target("memory://", {}, "memory", "")
    if request.param == "sqlite":
        return Target(f"sqlite:///{tmp_path}/t.db", {}, "sqlite", f"{tmp_path}/t.db")
    url: str = request.getfixturevalue("postgres_url")
    schema: str = request.getfixturevalue("pg_schema")
    database = urlsplit(url).path.lstrip("/")
    return Target(with_password(url), {"schema": schema}, "postgresql", f"{database}|{schema}")


def span_name(operation: str, target: Target) -> str:
    return f"{operation} {target.namespace}".rstrip()


def by_name(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    found = [span for span in spans if span.name == name]
    assert len(found) == 1, [span.name for span in spans]
    return found[0]


def operation_or_none(span: ReadableSpan) -> str | None:
    value = (span.attributes or {}).get("db.operation.name")
    return None if value is None else str(value)


def operation(span: ReadableSpan) -> str:
    assert span.attributes is not None
    return str(span.attributes["db.operation.name"])


async def every_call(store: Store) -> None:
    """Call every method of the contract (and of the capabilities) once, in order."""
    _, key_hash = generate_key()
    key = await store.create_key(TENANT, "ci", key_hash)
    await store.get_key_by_hash(key_hash)
    await store.validate_key(key_hash)
    await store.list_keys(TENANT)
    await store.revoke_key(TENANT, key.id)
    execution = Execution(skill_name="s", skill_version="1", tenant_id=TENANT, input={"n": 1})
    created = await store.create_execution(execution)
    await store.insert_execution(execution.model_copy(update={"status": "success"}))
    await store.get_execution(TENANT, created.id)
    await store.list_executions(TENANT)
    finished = created.model_copy(update={"status": "success", "finished_at": datetime.now(UTC)})
    await store.update_execution(finished)
    file = await store.create_file(File(tenant_id=TENANT, name="a", s3_key="k", size_bytes=1))
    await store.get_file(TENANT, file.id)
    await store.update_file(file.model_copy(update={"name": "b"}))
    version = await store.create_file_version(TENANT, file.id, size_bytes=2, s3_key="k2")
    await store.list_files(FileFilter(tenant_id=TENANT))
    await store.list_session_files(TENANT, str(uuid.uuid4()))
    await store.list_file_versions(TENANT, file.id)
    await store.delete_file(TENANT, version.id)
    session = await store.get_or_create_session(TENANT, "ext")
    await store.get_session(TENANT, session.id)
    await store.get_session_by_external_id(TENANT, "ext")
    await store.touch_session(TENANT, session.id)
    await store.delete_session(TENANT, "ext")
    await store.upsert_skill(SkillRecord(tenant_id=TENANT, name="s", version="1"))
    await store.get_skill(TENANT, "s", "1")
    await store.list_skills(TENANT)
    await store.resolve_latest_version(TENANT, "s")
    await store.delete_skill(TENANT, "s", "1")
    await store.prune_executions(TENANT, datetime.now(UTC))
    await store.purge_tenant(TENANT)
    await store.ping()
    await store.schema_version()
    async with store.transaction():
        pass
    assert supports(store, "stats")
    assert supports(store, "bulk")
    await store.table_counts()  # type: ignore[attr-defined]
    async with store.bulk_snapshot() as reader:  # type: ignore[attr-defined]
        await reader.tenants()
    await store.bulk_find("skills", TENANT, [])  # type: ignore[attr-defined]
    await store.bulk_insert("skills", TENANT, [])  # type: ignore[attr-defined]


def contract_methods() -> set[str]:
    """Every method of the `Store` Protocol and of the known capabilities' Protocols."""
    names = {
        name
        for protocol in (Store, *(c.protocol for c in CAPABILITIES.values()))
        for name, member in vars(protocol).items()
        if inspect.isfunction(member) and not name.startswith("_")
    }
    return names


def test_every_call_on_every_backend_has_its_span_and_duration(
    target: Target, otel: Otel
) -> None:
    async def scenario() -> None:
        store = await open_store(target.url, telemetry=otel.telemetry(), **target.options)
        assert isinstance(store, InstrumentedStore)
        assert isinstance(store, Store)
        await every_call(store)
        await store.close()

    run(scenario())
    spans = otel.finished()
    assert {operation(span) for span in spans} == contract_methods()
    for span in spans:
        assert span.kind is SpanKind.CLIENT
        assert span.name == span_name(operation(span), target)
        assert span.attributes is not None
        assert span.attributes["db.system.name"] == target.system
        assert span.attributes.get("db.namespace", "") == target.namespace
        assert span.status.status_code is StatusCode.UNSET, span.name
    durations = otel.metric_points("db.client.operation.duration")
    measured = {point.attributes["db.operation.name"]: point for point in durations}
    assert set(measured) == contract_methods()
    for point in durations:
        assert isinstance(point, HistogramDataPoint)
        assert point.count >= 1
        assert point.attributes is not None
        assert "error.type" not in point.attributes
        assert point.attributes["db.system.name"] == target.system


def test_store_attributes(target: Target, otel: Otel) -> None:
    async def scenario() -> None:
        async with open_store(target.url, telemetry=otel.telemetry(), **target.options) as s:
            await s.upsert_skill(SkillRecord(tenant_id=TENANT, name="s", version="1"))
            await s.upsert_skill(SkillRecord(tenant_id=TENANT, name="s", version="2"))
            await s.list_skills(TENANT)
            await s.list_keys(TENANT)
            await s.table_counts()  # type: ignore[attr-defined]

    run(scenario())
    spans = otel.finished()
    listed = by_name(spans, span_name("list_skills", target)).attributes
    assert listed is not None
    assert listed["db.response.returned_rows"] == 2
    empty = by_name(spans, span_name("list_keys", target)).attributes
    assert empty is not None
    assert empty["db.response.returned_rows"] == 0
    counted = by_name(spans, span_name("table_counts", target)).attributes
    assert counted is not None
    assert counted["skillbox.capability"] == "stats"
    if target.system == "postgresql":
        parts = urlsplit(target.url)
        assert counted["server.address"] == parts.hostname
        assert counted["server.port"] == (parts.port or 5432)
    else:
        assert "server.address" not in counted


def test_a_transaction_block_is_a_span_tree_under_the_callers_span(
    target: Target, otel: Otel
) -> None:
    tracer = otel.tracer_provider.get_tracer("caller")

    async def scenario() -> None:
        async with open_store(target.url, telemetry=otel.telemetry(), **target.options) as s:
            with tracer.start_as_current_span("handle request"):
                async with s.transaction() as tx:
                    assert isinstance(tx, InstrumentedStore)
                    assert declared(tx) == declared(s)
                    await tx.get_or_create_session(TENANT, "ext")
                    async with tx.transaction() as inner:
                        await inner.list_skills(TENANT)
                    await tx.list_keys(TENANT)

    run(scenario())
    spans = otel.finished()
    request = by_name(spans, "handle request")
    blocks = [span for span in spans if span.name == span_name("transaction", target)]
    assert len(blocks) == 2
    outer = next(span for span in blocks if span.parent == request.context)
    inner = next(span for span in blocks if span is not outer)
    assert inner.parent == outer.context
    assert by_name(spans, span_name("get_or_create_session", target)).parent == outer.context
    assert by_name(spans, span_name("list_skills", target)).parent == inner.context
    assert by_name(spans, span_name("list_keys", target)).parent == outer.context
    in_request = [span for span in spans if operation_or_none(span) != "close"]
    assert all(span.context.trace_id == request.context.trace_id for span in in_request)
    assert outer.start_time is not None
    assert outer.end_time is not None
    for span in spans:
        if span.parent == outer.context:
            assert span.start_time is not None
            assert span.end_time is not None
            assert outer.start_time <= span.start_time <= span.end_time <= outer.end_time


async def failing_block(store: Store) -> None:
    """A block that writes, then raises something no store raises: it rolls back."""
    async with store.transaction() as tx:
        await tx.upsert_skill(SkillRecord(tenant_id=TENANT, name="s", version="1"))
        raise ZeroDivisionError


def test_a_failed_call_is_an_error_span_counted_by_class(target: Target, otel: Otel) -> None:
    async def scenario() -> None:
        async with open_store(target.url, telemetry=otel.telemetry(), **target.options) as s:
            with pytest.raises(NotFoundError):
                await s.get_file(TENANT, str(uuid.uuid4()))
            with pytest.raises(InvalidArgumentError):
                await s.list_keys("")
            # Not a record at all: the backend's check answers, never the telemetry.
            with pytest.raises(StoreError):
                await s.create_execution(42)  # type: ignore[arg-type]
            with pytest.raises(ZeroDivisionError):
                await failing_block(s)
            assert await s.list_skills(TENANT) == []

    run(scenario())
    spans = otel.finished()
    missing = by_name(spans, span_name("get_file", target))
    assert missing.status.status_code is StatusCode.ERROR
    assert missing.status.description is None  # its message names the tenant
    assert missing.attributes is not None
    assert missing.attributes["error.type"] == "NotFoundError"
    bad = by_name(spans, span_name("list_keys", target)).attributes
    assert bad is not None
    assert bad["error.type"] == "InvalidArgumentError"
    block = by_name(spans, span_name("transaction", target))
    assert block.status.status_code is StatusCode.ERROR
    assert block.attributes is not None
    assert block.attributes["error.type"] == "ZeroDivisionError"
    errors = {
        (point.attributes["db.operation.name"], point.attributes["error.type"]): point.value
        for point in otel.metric_points("skillbox.store.errors")
    }
    assert errors[("get_file", "NotFoundError")] == 1
    assert errors[("list_keys", "InvalidArgumentError")] == 1
    assert errors[("transaction", "ZeroDivisionError")] == 1
    failed = [
        point
        for point in otel.metric_points("db.client.operation.duration")
        if point.attributes.get("error.type") == "NotFoundError"
    ]
    assert [point.count for point in failed] == [1]


def test_the_tenant_id_is_recorded_only_when_opted_in(target: Target, otel: Otel) -> None:
    async def calls(record_tenant_id: bool) -> None:
        telemetry = otel.telemetry(record_tenant_id=record_tenant_id)
        async with open_store(target.url, telemetry=telemetry, **target.options) as s:
            await s.upsert_skill(SkillRecord(tenant_id=TENANT, name="s", version="1"))
            await s.list_files(FileFilter(tenant_id=TENANT))
            with pytest.raises(NotFoundError):
                await s.get_skill(TENANT, "s", "404")
            await s.purge_tenant(TENANT)

    run(calls(False))
    assert TENANT not in otel.everything()
    otel.spans.clear()
    run(calls(True))
    spans = otel.finished()
    tenants = {
        operation(span): span.attributes.get("skillbox.tenant_id")
        for span in spans
        if span.attributes is not None
    }
    assert tenants["upsert_skill"] == TENANT  # from the record
    assert tenants["list_files"] == TENANT  # from the filter
    assert tenants["get_skill"] == TENANT
    assert tenants["close"] is None  # a call for no tenant
    failed = by_name(spans, span_name("get_skill", target))
    assert failed.status.description is not None
    assert TENANT in failed.status.description
    metrics = otel.metrics.get_metrics_data()
    assert metrics is not None
    assert TENANT not in metrics.to_json()


def test_no_password_in_any_span_metric_or_log(
    postgres_url: str, pg_schema: str, otel: Otel, caplog: pytest.LogCaptureFixture
) -> None:
    for logger in ("skillbox_store", "psycopg", "psycopg.pool"):
        caplog.set_level(logging.DEBUG, logger=logger)
    url = with_password(postgres_url)
    exported: list[str] = []

    async def scenario() -> None:
        telemetry = otel.telemetry(record_tenant_id=True)
        async with open_store(url, telemetry=telemetry, schema=pg_schema, max_size=2) as s:
            await every_call(s)
            with pytest.raises(NotFoundError):
                await s.get_execution(TENANT, str(uuid.uuid4()))
            # While the store is open, so that its pool is observed too.
            exported.append(otel.everything())

    run(scenario())
    exported.append(otel.everything())
    text = "\n".join(exported)
    assert "db.client.connection.count" in text  # the pool's metrics are in it too
    assert "telemetry on for postgresql store" in caplog.text
    text += caplog.text
    assert PASSWORD not in text
    assert PASSWORD_IN_URL not in text
    assert json.dumps(PASSWORD)[1:-1] not in text


def test_capabilities_survive_the_wrapping(target: Target, otel: Otel) -> None:
    async def scenario() -> None:
        bare = await open_store(target.url, telemetry=False, **target.options)
        wrapped = await open_store(target.url, telemetry=otel.telemetry(), **target.options)
        try:
            assert not isinstance(bare, InstrumentedStore)
            assert isinstance(wrapped, InstrumentedStore)
            assert wrapped.wrapped is not bare
            assert declared(wrapped) == declared(bare)
            for name in CAPABILITIES:
                assert supports(wrapped, name) == supports(bare, name)
            if target.system == "postgresql":
                # The backend's own attributes stay reachable, uninstrumented.
                assert wrapped.schema == target.options["schema"]
                assert wrapped.pool is wrapped.wrapped.pool  # type: ignore[attr-defined]
        finally:
            await bare.close()
            await wrapped.close()

    run(scenario())


def test_a_store_without_capabilities_gets_no_capability_methods(otel: Otel) -> None:
    from skillbox_store.telemetry import instrument

    class Bare:
        """Not even a store: `wrap` looks only at which capability methods it has."""

        async def close(self) -> None:
            return None

    wrapped = instrument(Bare(), "thing://", otel.telemetry())  # type: ignore[arg-type]
    assert not hasattr(type(wrapped), "table_counts")
    assert not hasattr(type(wrapped), "bulk_insert")
    assert declared(wrapped) == frozenset()
    run(wrapped.close())
    close = by_name(otel.finished(), "close")
    assert close.attributes is not None
    assert close.attributes["db.system.name"] == "thing"


def test_the_same_proxy_class_serves_every_store_of_a_shape(otel: Otel) -> None:
    async def scenario() -> tuple[type, type]:
        async with (
            open_store("memory://", telemetry=otel.telemetry()) as one,
            open_store("memory://", telemetry=otel.telemetry()) as two,
        ):
            return type(one), type(two)

    first, second = run(scenario())
    assert first is second
    assert trace.get_tracer_provider() is not otel.tracer_provider  # nothing global set
