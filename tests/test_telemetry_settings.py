"""Telemetry on or off: free when off means `open_store` returns the backend's store.

The global OpenTelemetry providers can be set once per process, so the case "an SDK
is configured, nothing else said" runs in a subprocess of its own.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from collections.abc import Awaitable
from typing import Any, TypeVar

import pytest

from skillbox_store import InvalidArgumentError, Store, open_store
from skillbox_store.backends.memory import MemoryStore
from skillbox_store.telemetry import TELEMETRY_ENV, TENANT_ENV, Telemetry, resolve
from skillbox_store.telemetry.proxy import InstrumentedStore

T = TypeVar("T")


def run(awaitable: Awaitable[T]) -> T:
    async def main() -> T:
        return await awaitable

    return asyncio.run(main())


async def opened(telemetry: Any = None) -> Store:
    store = await open_store("memory://", telemetry=telemetry)
    await store.close()
    return store


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TELEMETRY_ENV, raising=False)
    monkeypatch.delenv(TENANT_ENV, raising=False)


def test_off_by_default_the_store_is_the_backends_own() -> None:
    # opentelemetry is imported in this process (the tests import the SDK), but no
    # provider is set: auto means off.
    assert type(run(opened())) is MemoryStore
    assert type(run(opened(telemetry=False))) is MemoryStore
    assert resolve(None) is None


def test_on_when_asked_by_code_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(run(opened(telemetry=True)), InstrumentedStore)
    assert isinstance(run(opened(telemetry=Telemetry())), InstrumentedStore)
    monkeypatch.setenv(TELEMETRY_ENV, "on")
    assert isinstance(run(opened()), InstrumentedStore)
    # Code that says so wins over the environment.
    assert type(run(opened(telemetry=False))) is MemoryStore
    monkeypatch.setenv(TELEMETRY_ENV, "off")
    assert type(run(opened())) is MemoryStore
    assert isinstance(run(opened(telemetry=True)), InstrumentedStore)


def test_the_tenant_id_opt_in_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve(True) == Telemetry(record_tenant_id=False)
    monkeypatch.setenv(TENANT_ENV, "on")
    assert resolve(True) == Telemetry(record_tenant_id=True)
    # An explicit setting wins.
    assert resolve(Telemetry(record_tenant_id=False)) == Telemetry(record_tenant_id=False)


@pytest.mark.parametrize("value", ["yes please", "2"])
def test_a_bad_environment_value_is_invalid_argument(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(TELEMETRY_ENV, value)
    with pytest.raises(InvalidArgumentError, match=TELEMETRY_ENV):
        run(opened())


@pytest.mark.parametrize("value", ["on", 1, "Telemetry()", object()])
def test_a_bad_setting_is_invalid_argument_and_opens_nothing(value: object) -> None:
    with pytest.raises(InvalidArgumentError, match="telemetry must be"):
        run(opened(telemetry=value))


@pytest.mark.parametrize(
    "telemetry",
    [Telemetry(tracer_provider="global"), Telemetry(meter_provider=object())],  # type: ignore[arg-type]
)
def test_a_provider_that_is_not_one_is_invalid_argument(telemetry: Telemetry) -> None:
    with pytest.raises(InvalidArgumentError, match="must be a"):
        run(opened(telemetry=telemetry))


def test_without_opentelemetry_auto_is_off_and_on_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A None in sys.modules makes the import fail, as when the package is missing.
    for name in ("opentelemetry", "opentelemetry.trace", "opentelemetry.metrics"):
        monkeypatch.setitem(sys.modules, name, None)
    assert type(run(opened())) is MemoryStore
    with pytest.raises(InvalidArgumentError, match=r"skillbox-store\[otel\]"):
        run(opened(telemetry=True))


def test_auto_is_on_when_the_process_configured_an_sdk() -> None:
    script = textwrap.dedent(
        """
        import asyncio
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
            InMemorySpanExporter,
        )
        from skillbox_store import open_store

        async def main():
            async with open_store("memory://") as before:
                print(type(before).__name__)
            spans = InMemorySpanExporter()
            provider = TracerProvider()
            provider.add_span_processor(SimpleSpanProcessor(spans))
            trace.set_tracer_provider(provider)
            async with open_store("memory://") as store:
                print(type(store).__name__)
                await store.ping()
            print(sorted(span.name for span in spans.get_finished_spans()))

        asyncio.run(main())
        """
    )
    env = {k: v for k, v in os.environ.items() if k != TELEMETRY_ENV}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "MemoryStore",
        "InstrumentedStoreBulkStats",
        "['close', 'ping']",
    ]


def test_auto_does_not_import_opentelemetry() -> None:
    script = (
        "import asyncio, sys\n"
        "from skillbox_store import open_store\n"
        "async def main():\n"
        "    async with open_store('memory://') as store:\n"
        "        print(type(store).__name__)\n"
        "asyncio.run(main())\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["MemoryStore", "[]"]
