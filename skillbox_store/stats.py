"""An optional capability of a backend: counting the rows of its tables.

Not part of the `Store` contract, on purpose: every `Store` method is scoped to one
tenant, while an operator checking a database (``skillbox-store status``) wants totals
across all tenants, which no tenant-scoped method can give. A backend MAY implement
`StoreStats` next to `Store`; callers check ``isinstance(store, StoreStats)`` and do
without counts when it is not there, so a third-party backend is never forced to.
"""

from __future__ import annotations

from typing import Final, Protocol, runtime_checkable

__all__ = ["TABLES", "StoreStats"]

TABLES: Final = ("api_keys", "executions", "files", "sessions", "skills")
"""The tables a backend counts, by their SQL names (the same in every dialect)."""


@runtime_checkable
class StoreStats(Protocol):
    """A store that can count its records across all tenants."""

    async def table_counts(self) -> dict[str, int]:
        """Return the number of records in each table, across all tenants.

        The keys are exactly `TABLES`, in that order. Each count is read in one
        statement; counts of different tables may come from different moments when
        other clients write meanwhile (no snapshot is promised: a status display does
        not need one, and it would cost a transaction on a busy database).

        Raises:
            UnavailableError: the database cannot be reached.
            StoreError: the store is closed, or its schema is not migrated.
        """
        ...
