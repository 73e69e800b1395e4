"""An optional capability of a backend: counting the rows of its tables.

Not part of the `Store` contract, on purpose: every `Store` method is scoped to one
tenant, while an operator checking a database (``skillbox-store status``) wants totals
across all tenants, which no tenant-scoped method can give. A backend MAY implement
`StoreStats` next to `Store`; callers check ``isinstance(store, StoreStats)`` and do
without counts when it is not there, so a third-party backend is never forced to.
"""

from __future__ import annotations

from typing import Final, Protocol, runtime_checkable

__all__ = ["ESTIMATE_ABOVE", "TABLES", "Estimate", "StoreStats"]

TABLES: Final = ("api_keys", "executions", "files", "sessions", "skills")
"""The tables a backend counts, by their SQL names (the same in every dialect)."""

ESTIMATE_ABOVE: Final = 100_000
"""With ``exact=False``, a table the database believes holds at least this many rows may
be estimated instead of counted: counting it would cost a scan of the whole table."""


class Estimate(int):
    """A row count read from the database's statistics, not counted.

    It is an int (JSON prints the number); as text it reads ``~1,000,000``, so that no
    display passes it off as exact.
    """

    __slots__ = ()

    def __str__(self) -> str:
        """Return the estimate with a tilde and thousands separators."""
        return f"~{int(self):,}"


@runtime_checkable
class StoreStats(Protocol):
    """A store that can count its records across all tenants."""

    async def table_counts(self, *, exact: bool = True) -> dict[str, int]:
        """Return the number of records in each table, across all tenants.

        With ``exact=False`` a backend may return an `Estimate` instead of counting a
        table above `ESTIMATE_ABOVE` rows (PostgreSQL reads the planner's
        ``pg_class.reltuples``); every other count is exact and a plain int.

        The keys are exactly `TABLES`, in that order. Each count is read in one
        statement; counts of different tables may come from different moments when
        other clients write meanwhile (no snapshot is promised: a status display does
        not need one, and it would cost a transaction on a busy database).

        Raises:
            UnavailableError: the database cannot be reached.
            StoreError: the store is closed, or its schema is not migrated.
        """
        ...
