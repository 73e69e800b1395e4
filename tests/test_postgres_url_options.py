"""The PostgreSQL store's options in the URL: the same names, values and checks as keywords.

So that a URL alone (the CLI's ``--url``, ``python -m contract_tests``'s ``--store-url``)
can reach a pooled database: ``?prepare_threshold=none&lock_timeout=0.5``.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from skillbox_store import InvalidArgumentError, UnavailableError, open_store
from skillbox_store.backends.postgres.open import PostgresOptions, _options, _split_url


async def _open(url: str, **options: Any) -> None:
    await open_store(url, **options)


# Nothing listens on port 1: a URL that passes its checks fails only at connecting.
UNREACHABLE = "postgresql://app:s3cret@127.0.0.1:1/db"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("prepare_threshold=none", {"prepare_threshold": None}),
        ("prepare_threshold=5", {"prepare_threshold": 5}),
        ("lock_timeout=0.5", {"lock_timeout": 0.5}),
        ("lock_timeout=None", {"lock_timeout": None}),
        ("timeout=2.5&max_size=20&min_size=0", {"timeout": 2.5, "max_size": 20, "min_size": 0}),
        (
            "check=true&max_idle=60&max_lifetime=600",
            {"check": True, "max_idle": 60.0, "max_lifetime": 600.0},
        ),
        ("schema=app_1", {"schema": "app_1"}),
    ],
)
def test_options_in_the_url_are_the_keywords(query: str, expected: dict[str, Any]) -> None:
    conninfo, in_url, password = _split_url(f"{UNREACHABLE}?{query}&sslmode=disable")
    assert in_url == expected
    assert password == "s3cret"
    # libpq gets only its own parameters.
    params = psycopg.conninfo.conninfo_to_dict(conninfo)
    assert params["sslmode"] == "disable"
    assert not set(expected) & set(params)
    options = _options({}, in_url)
    for name, value in expected.items():
        assert getattr(options, name) == value


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("prepare_threshold=often", "prepare_threshold"),
        ("prepare_threshold=-1", "prepare_threshold"),
        ("lock_timeout=0", "lock_timeout"),
        ("lock_timeout=soon", "lock_timeout"),
        ("timeout=-1", "timeout"),
        ("timeout=nan", "timeout"),
        ("connect_timeout=1&timeout=inf", "timeout"),
        ("max_idle=inf", "max_idle"),
        ("lock_timeout=nan", "lock_timeout"),
        ("lock_timeout=inf", "lock_timeout"),
        ("max_size=ten", "max_size"),
        ("check=maybe", "check"),
        ("schema=Bad-Name", "schema"),
    ],
)
def test_a_bad_option_in_the_url_is_refused_before_connecting(query: str, named: str) -> None:
    with pytest.raises(InvalidArgumentError, match=named) as caught:
        asyncio.run(_open(f"{UNREACHABLE}?{query}"))
    assert "s3cret" not in str(caught.value)


@pytest.mark.parametrize("name", ["timeout", "connect_timeout", "lock_timeout", "max_lifetime"])
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_duration_that_is_not_finite_is_refused_as_a_keyword(name: str, value: float) -> None:
    with pytest.raises(InvalidArgumentError, match=f"{name} must be"):
        asyncio.run(_open(UNREACHABLE, **{name: value}))


def test_an_option_given_twice_must_agree() -> None:
    with pytest.raises(InvalidArgumentError, match="timeout is given both"):
        asyncio.run(_open(f"{UNREACHABLE}?timeout=2", timeout=3))
    # The same value both ways is no contradiction.
    assert _options({"timeout": 2.0}, {"timeout": 2.0}).timeout == 2.0


def test_the_defaults_are_safe_behind_a_pooler() -> None:
    """No prepared statements, no start-up parameters: any pooler, any mode."""
    defaults = PostgresOptions()
    assert defaults.prepare_threshold is None
    assert defaults.lock_timeout is None


def test_a_failed_connection_says_what_failed(postgres_url: str) -> None:
    """libpq's own words, and no hint that points at something else."""
    refused = "postgresql://app:s3cret@127.0.0.1:1/db"
    with pytest.raises(UnavailableError, match="Connection refused") as caught:
        asyncio.run(_open(refused))
    assert "s3cret" not in str(caught.value)
    assert "check" not in str(caught.value)
    parts = urlsplit(postgres_url)
    missing = urlunsplit(parts._replace(path="/no_such_database"))
    with pytest.raises(UnavailableError, match='"no_such_database" does not exist') as caught:
        asyncio.run(_open(missing))
    assert "check" not in str(caught.value)
