"""Fixtures shared by the fault tests: servers of their own that they may break."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from contract_tests.postgres_server import PostgresUnavailable, PrivateServer, private_server


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[PrivateServer]:
    """A PostgreSQL cluster of the module's own, on loopback, that tests may stop.

    Made like the session's throwaway cluster (same ``initdb``/``pg_ctl`` discovery, as
    the ``postgres`` user when root) but never shared, so stopping it disturbs no other
    test; it is stopped and removed when the module ends, whatever happened. Fails,
    never skips, when no cluster can be started.
    """
    try:
        with private_server() as server:
            yield server
    except PostgresUnavailable as exc:
        pytest.fail(f"PostgreSQL unavailable: {exc}", pytrace=False)
