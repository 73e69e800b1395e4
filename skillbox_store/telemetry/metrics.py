"""The store's call metrics: duration per operation and outcome, errors by class.

``db.client.operation.duration`` is semconv's stable histogram, in seconds, with the
bucket boundaries semconv advises; an attribute ``error.type`` marks a failed call, so
one histogram answers "how slow" and "how often does it fail" per operation.
``skillbox.store.errors`` counts the failures alone, by ``error.type``, for an alert
that needs no histogram arithmetic (how many `UnavailableError` a minute).

Attributes are the store's (`StoreAttributes.common`) plus the operation and the error
class: a few dozen series per store. The tenant id is never one, whatever the settings,
because every tenant would be a series of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from skillbox_store.telemetry.attributes import DB_OPERATION_NAME, ERROR_TYPE

if TYPE_CHECKING:
    from opentelemetry.metrics import Counter, Histogram, Meter

__all__ = ["DURATION", "DURATION_BUCKETS", "ERRORS", "CallMetrics"]

DURATION: Final = "db.client.operation.duration"
ERRORS: Final = "skillbox.store.errors"
DURATION_BUCKETS: Final = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0)
"""Semconv's advice for ``db.client.operation.duration``, in seconds."""


@dataclass(slots=True)
class CallMetrics:
    """The instruments of one store, and its attribute sets built once per outcome.

    A measurement's attributes are a dict the SDK hashes on every record; building it
    per call would cost as much as the record itself, so each (operation, error type)
    pair gets its dict once and keeps it.
    """

    duration: Histogram
    errors: Counter
    common: Mapping[str, str | int]
    _sets: dict[tuple[str, str | None], dict[str, str | int]] = field(default_factory=dict)

    @classmethod
    def create(cls, meter: Meter, common: Mapping[str, str | int]) -> CallMetrics:
        """Create (or find: the SDK returns one instrument per name) the instruments."""
        duration = meter.create_histogram(
            DURATION,
            unit="s",
            description="Duration of database client operations.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        errors = meter.create_counter(
            ERRORS, unit="{error}", description="Store calls that raised, by error.type."
        )
        return cls(duration, errors, common)

    def attributes(self, operation: str, error: str | None) -> dict[str, str | int]:
        """The attribute set of one operation and outcome (``error`` None: success)."""
        key = (operation, error)
        found = self._sets.get(key)
        if found is None:
            found = {**self.common, DB_OPERATION_NAME: operation}
            if error is not None:
                found[ERROR_TYPE] = error
            self._sets[key] = found
        return found

    def record(self, operation: str, seconds: float, error: str | None) -> None:
        """Record one call's duration, and count it as an error when it raised."""
        attributes = self.attributes(operation, error)
        self.duration.record(seconds, attributes)
        if error is not None:
            self.errors.add(1, attributes)
