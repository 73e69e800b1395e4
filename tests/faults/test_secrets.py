"""Password masking: no text a person could read of a store holds its password.

No message, traceback text, log record (``skillbox_store``, ``psycopg``,
``psycopg.pool`` at DEBUG), ``repr`` or ``str`` of a store holds the password of its
PostgreSQL URL: a store that opened (the throwaway server trusts any password, so a URL
with one opens), a server that refuses (a database that does not exist), a server that
cannot be reached, and the command line. Use after close, which every backend must
refuse alike, is a promise of the contract: ``store.close.then_raises`` in
`contract_tests/test_lifecycle.py`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import subprocess
import sys
import traceback
import uuid
from collections.abc import Awaitable
from pathlib import Path
from typing import Final, TypeVar
from urllib.parse import urlsplit, urlunsplit

import pytest

from skillbox_store import StoreError, UnavailableError, open_store

T = TypeVar("T")

SCENARIO_LIMIT: Final = 30.0
"""Seconds any scenario of this module may take."""

# Percent-encoded in URLs ("%40" is "@"), so both spellings are searched for.
PASSWORD: Final = "Pw-s3cr3t@9Zq"
PASSWORD_IN_URL: Final = "Pw-s3cr3t%409Zq"

LOGGERS: Final = ("skillbox_store", "psycopg", "psycopg.pool")


def run(awaitable: Awaitable[T]) -> T:
    """Run one scenario on a fresh loop, bounded by SCENARIO_LIMIT."""

    async def bounded() -> T:
        async with asyncio.timeout(SCENARIO_LIMIT):
            return await awaitable

    return asyncio.run(bounded())


# -- No password anywhere ----------------------------------------------------------------


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every record of the store's and the driver's loggers, at DEBUG."""
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def _with_password(url: str) -> str:
    """``url`` with PASSWORD as the password of its user."""
    parts = urlsplit(url)
    user = parts.username or "postgres"
    host = parts.hostname or "127.0.0.1"
    netloc = f"{user}:{PASSWORD_IN_URL}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _with_database(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


def _leaks(text: str) -> bool:
    return PASSWORD in text or PASSWORD_IN_URL in text


def _exception_text(exc: BaseException) -> str:
    """Everything a person could read of ``exc``: message, repr, whole chained traceback."""
    return "\n".join([str(exc), repr(exc), *traceback.format_exception(exc)])


def _assert_no_password(texts: list[str], caplog: pytest.LogCaptureFixture) -> None:
    logged = [f"{r.name}: {r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records]
    leaking = [text for text in [*texts, *logged] if _leaks(text)]
    assert leaking == [], leaking


async def _use_store_with_password(url: str) -> list[str]:
    texts = []
    store = await open_store(url, timeout=2.0)
    try:
        texts += [repr(store), str(store)]
        pool = getattr(store, "pool", None)
        texts += [repr(pool), str(pool), str(getattr(pool, "name", ""))]
        await store.create_key("t-secret", "k", hashlib.sha256(uuid.uuid4().bytes).hexdigest())
        try:
            await store.get_execution("t-secret", str(uuid.uuid4()))
        except StoreError as exc:
            texts.append(_exception_text(exc))
    finally:
        await store.close()
    try:
        await store.ping()
    except StoreError as exc:
        texts.append(_exception_text(exc))
    texts += [repr(store), str(store)]
    return texts


@pytest.mark.postgres
def test_open_store_hides_password(
    postgres_url: str, pg_schema: str, debug_logs: pytest.LogCaptureFixture
) -> None:
    """A store opened with a password shows it nowhere: repr, errors, logs."""
    url = _with_password(postgres_url)
    url += f"{'&' if '?' in url else '?'}schema={pg_schema}"
    texts = run(_use_store_with_password(url))
    _assert_no_password(texts, debug_logs)


async def _failed_open(url: str) -> str:
    try:
        store = await open_store(url, connect_timeout=3, timeout=2.0)
    except StoreError as exc:
        return _exception_text(exc)
    await store.close()
    raise AssertionError(f"opened {url.replace(PASSWORD_IN_URL, '***')}")


@pytest.mark.postgres
def test_refused_connection_hides_password(
    postgres_url: str, debug_logs: pytest.LogCaptureFixture
) -> None:
    """The server refuses the connection (no such database): no password in the error."""
    url = _with_database(_with_password(postgres_url), f"missing_{uuid.uuid4().hex[:8]}")
    text = run(_failed_open(url))
    assert "missing_" in text, text
    _assert_no_password([text], debug_logs)


def test_unreachable_server_hides_password(debug_logs: pytest.LogCaptureFixture) -> None:
    """Nothing listens at the address: UnavailableError, no password in it or the logs."""
    url = f"postgresql://someone:{PASSWORD_IN_URL}@127.0.0.1:1/db"

    async def failed() -> str:
        try:
            store = await open_store(url, connect_timeout=3, timeout=2.0)
        except UnavailableError as exc:
            return _exception_text(exc)
        await store.close()
        raise AssertionError("opened a store on port 1")

    _assert_no_password([run(failed())], debug_logs)


@pytest.mark.parametrize("command", [["status"], ["migrate"], ["keys", "list", "t"]])
def test_command_line_hides_password(tmp_path: Path, command: list[str]) -> None:
    """skillbox-store on an unreachable URL with a password prints no password."""
    url = f"postgresql://u:{PASSWORD_IN_URL}@127.0.0.1:1/db?connect_timeout=2"
    cli = [sys.executable, "-c", "from skillbox_store.cli import main; main()"]
    done = subprocess.run(
        [*cli, "--url", url, *command],
        cwd=tmp_path,
        env={**os.environ, "PYTHONWARNINGS": "default"},
        capture_output=True,
        text=True,
        timeout=SCENARIO_LIMIT,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert output.strip(), "the command said nothing"
    assert not _leaks(output), output
    assert "Traceback" not in output, output
