"""A call the store ran again on its own says so on its span (``skillbox.retries``).

On a server of the test's own, restarted between two calls: the read that meets the
dead pooled connection runs once more on a fresh one, and its span counts that retry.
"""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from skillbox_store import Execution, open_store
from skillbox_store.telemetry import Telemetry
from skillbox_store.testing_postgres import PrivateServer

pytestmark = pytest.mark.postgres


def test_a_read_retried_after_a_restart_counts_its_retry(
    private_postgres: PrivateServer,
) -> None:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    meter_provider = MeterProvider()
    telemetry = Telemetry(False, tracer_provider, meter_provider)

    async def scenario() -> None:
        async with open_store(
            private_postgres.url, schema="retried", telemetry=telemetry, min_size=1, max_size=1
        ) as store:
            run = await store.create_execution(
                Execution(skill_name="s", skill_version="1", tenant_id="t")
            )
            await asyncio.to_thread(private_postgres.stop, "fast")
            await asyncio.to_thread(private_postgres.start)
            assert await store.get_execution("t", run.id) == run

    try:
        asyncio.run(scenario())
    finally:
        tracer_provider.shutdown()
        meter_provider.shutdown()
    spans = {span.name.split()[0]: span for span in exporter.get_finished_spans()}
    assert (spans["get_execution"].attributes or {}).get("skillbox.retries") == 1
    assert "skillbox.retries" not in (spans["create_execution"].attributes or {})
