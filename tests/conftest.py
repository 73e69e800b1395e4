"""Shared pytest configuration of the unit tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

# Registers and loads the Hypothesis profiles (HYPOTHESIS_PROFILE=dev|ci|nightly) that
# the contract suite uses too, so one variable governs every Hypothesis test.
import contract_tests.profiles  # noqa: F401
from skillbox_store.testing_postgres import PostgresUnavailable, provide_postgres


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL: ``SKILLBOX_TEST_POSTGRES_URL`` or a throwaway cluster.

    The cluster is shared with the contract suite's fixture when both run in one
    session (`provide_postgres` keeps one per process). Fails, never skips, without one.
    """
    try:
        with provide_postgres() as url:
            yield url
    except PostgresUnavailable as exc:
        pytest.fail(f"PostgreSQL unavailable: {exc}", pytrace=False)


@pytest.fixture
def pg_schema(postgres_url: str) -> Iterator[str]:
    """A schema name no other test uses: a fresh database, as far as a store can tell.

    Dropped afterwards, so an external server given by URL is left as it was.
    """
    name = f"test_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))
