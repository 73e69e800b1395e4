"""One span and one measurement per store call: `Tracing`.

Each call is a CLIENT span named ``"{db.operation.name} {db.namespace}"`` (semconv's
``{operation} {target}``; the operation alone where the store has no namespace), made
current while the backend runs, so that the driver's own spans
(``opentelemetry-instrumentation-psycopg``'s SQL spans) become its children and the
caller's span its parent. A call that raises ends its span with status ERROR and
``error.type``; the exception's message goes into the status only when the operator
opted in to tenant ids, because store messages name tenants and record ids. No
exception event is recorded: its stack trace would cost more than the call.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, TypeVar, cast

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from skillbox_store.retries import counting
from skillbox_store.telemetry.attributes import (
    CAPABILITY,
    DB_OPERATION_NAME,
    ERROR_TYPE,
    RETRIES,
    RETURNED_ROWS,
    TENANT_ID,
    error_type,
)

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

    from skillbox_store.telemetry.metrics import CallMetrics

__all__ = ["Tracing"]

_T = TypeVar("_T")
_CLIENT = SpanKind.CLIENT


def _tenant(source: object) -> str | None:
    """The tenant id of a call's argument: the id itself, or a record's ``tenant_id``.

    Whatever the caller passed: a wrong type is the backend's to refuse (with an
    `InvalidArgumentError`), never this function's to raise on.
    """
    if isinstance(source, str):
        return source
    try:
        tenant = getattr(source, "tenant_id", None)
    except Exception:
        return None
    return tenant if isinstance(tenant, str) else None


class Tracing:
    """The spans and measurements of one store: its tracer, metrics and attributes."""

    __slots__ = ("_common", "_metrics", "_names", "_namespace", "_spans", "_tenant", "_tracer")

    def __init__(
        self,
        tracer: Tracer,
        metrics: CallMetrics,
        common: Mapping[str, str | int],
        namespace: str,
        *,
        record_tenant_id: bool,
    ) -> None:
        """Report to ``tracer`` and ``metrics``, every span carrying ``common``."""
        self._tracer = tracer
        self._metrics = metrics
        self._common = common
        self._namespace = namespace
        self._tenant = record_tenant_id
        # Span names and attribute dicts per operation, built on first use: the SDK
        # copies the attributes it is given, so one dict serves every call.
        self._names: dict[str, str] = {}
        self._spans: dict[tuple[str, str | None], dict[str, str | int]] = {}

    def _start(self, operation: str, capability: str | None, tenant: object) -> Span:
        key = (operation, capability)
        attributes = self._spans.get(key)
        if attributes is None:
            attributes = {**self._common, DB_OPERATION_NAME: operation}
            if capability is not None:
                attributes[CAPABILITY] = capability
            self._spans[key] = attributes
            self._names[operation] = f"{operation} {self._namespace}".rstrip()
        if self._tenant:
            found = _tenant(tenant)
            if found is not None:
                attributes = {**attributes, TENANT_ID: found}
        return self._tracer.start_span(
            self._names[operation], kind=_CLIENT, attributes=attributes
        )

    def _failed(self, span: Span, operation: str, began: float, exc: BaseException) -> None:
        kind = error_type(exc)
        self._metrics.record(operation, time.perf_counter() - began, kind)
        if span.is_recording():
            span.set_attribute(ERROR_TYPE, kind)
            span.set_status(Status(StatusCode.ERROR, self._message(exc)))

    def _message(self, exc: BaseException) -> str | None:
        """The status description: the message, only when tenant ids may be shown."""
        if not self._tenant:
            return None
        try:
            return str(exc)
        except Exception:
            # A block's own exception may fail to render; its class is in error.type.
            return None

    async def call(
        self,
        operation: str,
        running: Awaitable[_T],
        tenant: object = None,
        *,
        capability: str | None = None,
        rows: bool = False,
    ) -> _T:
        """Await ``running`` (the backend's call) inside the operation's span.

        ``tenant`` is the tenant id, or the record that carries it; it is looked at
        only when tenant ids are recorded. ``rows``: the call returns a list of
        records, which the span counts.
        """
        span = self._start(operation, capability, tenant)
        token = otel_context.attach(trace.set_span_in_context(span))
        began = time.perf_counter()
        retries = [0]
        try:
            with counting() as retries:
                result = await running
            if rows and span.is_recording():
                span.set_attribute(RETURNED_ROWS, len(cast(list[object], result)))
        except BaseException as exc:
            self._failed(span, operation, began, exc)
            raise
        finally:
            otel_context.detach(token)
            if retries[0] and span.is_recording():
                span.set_attribute(RETRIES, retries[0])
            span.end()
        self._metrics.record(operation, time.perf_counter() - began, None)
        return result

    def listing(
        self,
        operation: str,
        running: Awaitable[list[_T]],
        tenant: object = None,
        *,
        capability: str | None = None,
    ) -> Awaitable[list[_T]]:
        """As `call`, for a call returning records: the span counts them too."""
        return self.call(operation, running, tenant, capability=capability, rows=True)

    def block(
        self,
        operation: str,
        opening: AbstractAsyncContextManager[_T],
        *,
        capability: str | None = None,
    ) -> AbstractAsyncContextManager[_T]:
        """Span a block (``transaction()``, ``bulk_snapshot()``) from entry to exit.

        The span is current for the whole block, so every call made in it is its child;
        an exception leaving the block (the block rolled back) is its ``error.type``.
        """
        return self._block(operation, opening, capability)

    @asynccontextmanager
    async def _block(
        self,
        operation: str,
        opening: AbstractAsyncContextManager[_T],
        capability: str | None,
    ) -> AsyncIterator[_T]:
        span = self._start(operation, capability, None)
        token = otel_context.attach(trace.set_span_in_context(span))
        began = time.perf_counter()
        try:
            async with opening as opened:
                yield opened
        except BaseException as exc:
            self._failed(span, operation, began, exc)
            raise
        finally:
            otel_context.detach(token)
            span.end()
        self._metrics.record(operation, time.perf_counter() - began, None)
