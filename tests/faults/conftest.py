"""Fixtures shared by the fault tests: servers of their own that they may break."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

from skillbox_store.testing_postgres import PostgresUnavailable, PrivateServer, private_server


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


BACKENDS: Final = ("memory", "sqlite-file", "sqlite-memory", "postgres")
"""Every built-in backend, for fault tests that need a store of their own on each."""


def with_schema(url: str, schema: str) -> str:
    """Return the PostgreSQL ``url`` with ``schema`` added to its query string."""
    return f"{url}{'&' if '?' in url else '?'}schema={schema}"


@pytest.fixture(params=BACKENDS)
def fresh_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a fresh, empty store of each backend (PostgreSQL: a schema of its own)."""
    backend: str = request.param
    if backend == "memory":
        return "memory://"
    if backend == "sqlite-file":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    if backend == "sqlite-memory":
        return "sqlite:///:memory:"
    postgres_url: str = request.getfixturevalue("postgres_url")
    return with_schema(postgres_url, request.getfixturevalue("pg_schema"))
