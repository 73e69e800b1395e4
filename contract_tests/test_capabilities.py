"""Optional capabilities: what a store declares, it implements.

The rules are docs/contract.md's, section "Optional capabilities".

This test runs on every target, whatever it declares; the tests of each capability
(``test_capability_<name>.py``) run only where it is declared.
"""

from __future__ import annotations

from skillbox_store.capabilities import CAPABILITIES, declared

from .clauses import clause
from .harness import Harness


@clause("capabilities.declared.implemented")
def test_declared_capabilities_are_implemented(harness: Harness) -> None:
    """Each known capability the store declares has its methods."""
    store = harness.store
    for name in sorted(declared(store) & CAPABILITIES.keys()):
        protocol = CAPABILITIES[name].protocol
        assert isinstance(store, protocol), (
            f"the store declares capability {name!r} but is not a {protocol.__name__}"
        )
