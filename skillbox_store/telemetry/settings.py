"""Whether a store is instrumented, and how: `Telemetry` and the environment.

Free when off is the design's first rule. `open_store` asks `resolve` once, at open;
when the answer is None it returns the backend's store itself, so a call costs exactly
what it cost before telemetry existed (the same object, no proxy frame). Only when the
answer is a `Telemetry` is the store wrapped in an `InstrumentedStore`.

The answer, in order:

1. ``open_store(url, telemetry=…)``: ``False`` is off, ``True`` is on with the
   defaults, a `Telemetry` is on with its settings. Code that says so wins.
2. ``SKILLBOX_STORE_TELEMETRY``: ``off``, ``on``, or ``auto`` (the default).
3. ``auto``: on when the process has configured an OpenTelemetry SDK — a tracer or
   meter provider other than the API's placeholder — and off otherwise. A process
   that never imported ``opentelemetry`` cannot have configured one, so ``auto``
   looks in `sys.modules` and imports nothing: with the extra not installed, or
   installed and unused, opening costs one dictionary look-up. Run under
   ``opentelemetry-instrument`` (zero-code instrumentation), the store is traced with
   no change to its callers. A provider set after the store was opened is not seen by
   ``auto``; open the store after configuring the SDK, or pass ``telemetry=True``
   (the API's proxies then forward to the provider whenever it is set).

``SKILLBOX_STORE_TELEMETRY_TENANT_ID=on`` opts in to the tenant id on spans, as
``Telemetry(record_tenant_id=True)`` does; it may be personal data, so it is off unless
an operator says otherwise.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, TypeAlias

from skillbox_store.errors import InvalidArgumentError

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

__all__ = ["TELEMETRY_ENV", "TENANT_ENV", "Telemetry", "TelemetrySetting", "resolve"]

TELEMETRY_ENV: Final = "SKILLBOX_STORE_TELEMETRY"
"""Environment variable: ``auto`` (default), ``on`` or ``off``."""

TENANT_ENV: Final = "SKILLBOX_STORE_TELEMETRY_TENANT_ID"
"""Environment variable: ``on`` records the tenant id on spans (default ``off``)."""

_ON: Final = frozenset({"on", "1", "true", "yes"})
_OFF: Final = frozenset({"off", "0", "false", "no"})


@dataclass(frozen=True, slots=True)
class Telemetry:
    """How an instrumented store reports: ``open_store(url, telemetry=Telemetry(…))``.

    Attributes:
        record_tenant_id: put the tenant id on every span (``skillbox.tenant_id``) and
            error messages in span statuses (they name tenants and ids). Never on
            metrics, whose attributes must stay few. Default: the environment's
            ``SKILLBOX_STORE_TELEMETRY_TENANT_ID``, else off.
        tracer_provider: where spans go; default the global one.
        meter_provider: where measurements go; default the global one.
    """

    record_tenant_id: bool | None = None
    tracer_provider: TracerProvider | None = None
    meter_provider: MeterProvider | None = None


TelemetrySetting: TypeAlias = "Telemetry | bool | None"
"""What ``open_store(telemetry=…)`` takes: None (the environment decides) or as above."""


def _switch(name: str) -> bool | None:
    """An on/off variable's value; None when unset, empty or ``auto``."""
    value = os.environ.get(name, "").strip().lower()
    if value in ("", "auto"):
        return None
    if value in _ON:
        return True
    if value in _OFF:
        return False
    raise InvalidArgumentError(f"{name} must be on, off or auto, not {value!r}")


def _sdk_configured() -> bool:
    """Whether the process set a real tracer or meter provider; imports nothing."""
    trace = sys.modules.get("opentelemetry.trace")
    metrics = sys.modules.get("opentelemetry.metrics")
    if trace is not None:
        provider = trace.get_tracer_provider()
        if not isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
            return True
    if metrics is not None:
        provider = metrics.get_meter_provider()
        # The placeholder the API hands out before a provider is set is private
        # (`_ProxyMeterProvider`); its name is the stable way to recognize it.
        placeholder = type(provider).__name__ == "_ProxyMeterProvider"
        if not placeholder and not isinstance(provider, metrics.NoOpMeterProvider):
            return True
    return False


def resolve(setting: object) -> Telemetry | None:
    """Return the telemetry a store should have, or None for none at all.

    Raises:
        InvalidArgumentError: ``setting`` is not a `Telemetry`, a bool or None; an
            environment variable holds something else than on, off or auto; or
            telemetry is on and ``opentelemetry-api`` is not installed.
    """
    if setting is None:
        wanted = _switch(TELEMETRY_ENV)
        if wanted is None:
            wanted = _sdk_configured()
        if not wanted:
            return None
        setting = True
    if setting is False:
        return None
    if setting is True:
        setting = Telemetry()
    if not isinstance(setting, Telemetry):
        raise InvalidArgumentError(
            f"telemetry must be a Telemetry, True, False or None, not {type(setting).__name__}"
        )
    try:
        from opentelemetry import metrics, trace
    except ImportError as exc:
        raise InvalidArgumentError(
            "telemetry needs opentelemetry-api, which is not installed; "
            "install it with: pip install 'skillbox-store[otel]'"
        ) from exc
    # Checked here, at open: a wrong object would otherwise fail at the first call,
    # with an AttributeError no caller of a store expects.
    tracer_provider, meter_provider = setting.tracer_provider, setting.meter_provider
    if tracer_provider is not None and not isinstance(tracer_provider, trace.TracerProvider):
        raise InvalidArgumentError(
            f"Telemetry.tracer_provider must be a TracerProvider, "
            f"not {type(tracer_provider).__name__}"
        )
    if meter_provider is not None and not isinstance(meter_provider, metrics.MeterProvider):
        raise InvalidArgumentError(
            f"Telemetry.meter_provider must be a MeterProvider, "
            f"not {type(meter_provider).__name__}"
        )
    record = setting.record_tenant_id
    if record is None:
        record = bool(_switch(TENANT_ENV))
    return Telemetry(bool(record), tracer_provider, meter_provider)
