"""Optional capabilities of a backend, declared by the backend itself.

The `Store` Protocol is the core contract: every backend keeps all of it, and the
contract suite never skips any of it. Beyond it, a backend MAY offer optional
capabilities, each a named set of methods described by a runtime-checkable Protocol
(`CAPABILITIES`). As SQLAlchemy dialects declare their requirements, a backend declares
what it offers instead of being probed for it: a ``capabilities`` attribute on the store
holding capability names::

    class MyStore:
        capabilities: ClassVar[frozenset[str]] = frozenset({"stats"})

        async def table_counts(self) -> dict[str, int]: ...

Callers ask `supports` before using a capability. The contract suite runs the tests of
every capability a store declares, fails a store that declares a capability without
its methods, and reports per target which capabilities it tested and which it skipped.
A store without the attribute declares nothing and is tested on the core contract only.

A new capability is one more entry in `CAPABILITIES` (its Protocol next to it) and a
test module ``contract_tests/test_capability_<name>.py`` whose tests ask for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from skillbox_store.bulk import StoreBulk
from skillbox_store.stats import StoreStats

__all__ = ["BULK", "CAPABILITIES", "STATS", "Capability", "declared", "supports"]

BULK: Final = "bulk"
"""`skillbox_store.bulk.StoreBulk`: stream every record, write records as they were."""

STATS: Final = "stats"
"""`skillbox_store.stats.StoreStats`: ``table_counts()``, totals across tenants."""


@dataclass(frozen=True, slots=True)
class Capability:
    """One optional capability: its name, the Protocol of its methods, what it is for."""

    name: str
    protocol: type[Any]
    summary: str


CAPABILITIES: Final[Mapping[str, Capability]] = MappingProxyType(
    {
        STATS: Capability(STATS, StoreStats, "table_counts(): record totals across tenants"),
        BULK: Capability(
            BULK, StoreBulk, "bulk_snapshot/bulk_find/bulk_insert: copy, export, import"
        ),
    }
)
"""Every optional capability this version knows, by name."""


def declared(store: object) -> frozenset[str]:
    """Return the capability names ``store`` declares (its ``capabilities`` attribute).

    Names this version does not know are returned too, so a caller can report them; a
    store without the attribute, or with one that is not a collection of names,
    declares nothing.
    """
    names = getattr(store, "capabilities", ())
    if isinstance(names, str | bytes) or not isinstance(names, Iterable):
        return frozenset()
    return frozenset(name for name in names if isinstance(name, str))


def supports(store: object, name: str) -> bool:
    """Return True when ``store`` declares capability ``name`` and has its methods."""
    capability = CAPABILITIES.get(name)
    if capability is None or name not in declared(store):
        return False
    return isinstance(store, capability.protocol)
