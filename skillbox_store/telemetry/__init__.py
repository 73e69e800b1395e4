"""OpenTelemetry traces and metrics of store calls, and connection pool health.

Opt-in and free when off (`settings`): without ``opentelemetry-api``
(``pip install 'skillbox-store[otel]'``), or with no SDK configured and no
``telemetry=`` argument, `open_store` returns the backend's store itself. When on,
it returns an `InstrumentedStore` (`proxy`): one CLIENT span per call named after
semconv's database conventions (`attributes`, `tracing`), the
``db.client.operation.duration`` histogram and an error counter (`metrics`), and for a
store with a connection pool the pool's ``db.client.connection.*`` instruments
(`pool`). `pool_health` works with telemetry on or off: it is what
``skillbox-store status`` shows.

Modules: `settings` (on or off), `attributes` (names and the store's attributes),
`tracing` (spans), `metrics` (call metrics), `pool` (pool health and metrics), `proxy`
(the instrumented store). Only `tracing`, `metrics` and `proxy` need
``opentelemetry-api``, and they are imported only once telemetry is on.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

from skillbox_store.telemetry.pool import PoolHealth, pool_health
from skillbox_store.telemetry.settings import (
    TELEMETRY_ENV,
    TENANT_ENV,
    Telemetry,
    TelemetrySetting,
    resolve,
)

if TYPE_CHECKING:
    from skillbox_store.store import Store

__all__ = [
    "TELEMETRY_ENV",
    "TENANT_ENV",
    "PoolHealth",
    "Telemetry",
    "TelemetrySetting",
    "instrument",
    "pool_health",
    "resolve",
]


# No handler is added: what is shown, and where, is the application's choice.
_log: Final = logging.getLogger(__name__)


def instrument(store: Store, url: str, telemetry: Telemetry) -> Store:
    """Return ``store`` (opened from ``url``) instrumented as ``telemetry`` says.

    No I/O: the tracer, the meter and the attributes are set up from the URL with its
    password removed, and the store's pool (if it has one) is observed until it closes.
    """
    from opentelemetry import metrics, trace

    from skillbox_store._version import __version__
    from skillbox_store.telemetry.attributes import store_attributes
    from skillbox_store.telemetry.metrics import CallMetrics
    from skillbox_store.telemetry.pool import observe_pool, pool_of
    from skillbox_store.telemetry.proxy import wrap
    from skillbox_store.telemetry.tracing import Tracing

    schema = getattr(store, "schema", None)
    found = store_attributes(url, schema if isinstance(schema, str) else None)
    tracer = trace.get_tracer(
        "skillbox_store", __version__, tracer_provider=telemetry.tracer_provider
    )
    meter_provider = telemetry.meter_provider or metrics.get_meter_provider()
    meter = meter_provider.get_meter("skillbox_store", __version__)
    tracing = Tracing(
        tracer,
        CallMetrics.create(meter, found.common),
        found.common,
        found.namespace,
        record_tenant_id=bool(telemetry.record_tenant_id),
    )
    pool = pool_of(store)
    stop = None
    if pool is not None:
        stop = observe_pool(meter_provider, pool, found.pool_name or found.namespace)
    # The attributes come from the URL with its password removed: safe to log.
    _log.debug(
        "telemetry on for %s store %s (tenant ids %s)",
        found.common.get("db.system.name"),
        found.namespace or "-",
        "recorded" if telemetry.record_tenant_id else "not recorded",
    )
    return wrap(store, tracing, stop)
