"""A pytest plugin for your application's tests: a fresh, empty store for every test.

Opt in from a ``conftest.py`` (``pytest_plugins = ["skillbox_store.testing"]``) or on
the command line (``-p skillbox_store.testing``). Three fixtures, from the most to the
least general (docs/testing.md has an example):

``skillbox_store_url``
    A URL naming a fresh, empty store that nobody else uses. Synchronous, so it works
    under any async test runner, or none: open the store yourself.
``skillbox_store``
    That store, open, as an async fixture: for async tests run by pytest-asyncio (in
    strict or auto mode) or by anyio's pytest plugin. Opened on the test's own event
    loop, closed after the test.
``skillbox_store_runner``
    A `StoreRunner` for plain synchronous tests, needing no async plugin at all: the
    store on an event loop of its own, and ``run(awaitable)`` to drive calls on it.

Which store: ``--skillbox-store-url URL``, else ``$SKILLBOX_STORE_TEST_URL``, else
``memory://``. Each test gets its own, empty, whatever the URL says:

* ``memory://`` and ``sqlite:///:memory:``: every open is a new, empty store already;
* any other ``sqlite:`` URL: a new file in the test's ``tmp_path`` (the URL's path is
  not used, so the same option serves every machine);
* ``postgresql://…`` (or ``postgres://…``): a new schema on that server, dropped after
  the test;
* ``postgresql+throwaway://``: the same, on a private throwaway PostgreSQL cluster
  started for the session (``initdb``/``pg_ctl`` from ``PATH`` or
  ``/usr/lib/postgresql/*/bin``, as the project's own tests do:
  `skillbox_store.testing_postgres`);
* any other scheme (a third-party backend): the URL as given.

A store that cannot be opened, or a PostgreSQL server that cannot be reached, fails
the test in one line, password masked, with no traceback (whose frames would show the
connection string among their arguments).

The data helpers (`add_tenant_with_key`, `add_execution`, `add_session_with_files`)
are coroutines that work with any store and any of the fixtures.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, NoReturn, TypeVar
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import pytest

from skillbox_store.errors import StoreError
from skillbox_store.keys import generate_key
from skillbox_store.open import open_store
from skillbox_store.records import APIKey, Execution, File, Session
from skillbox_store.store import Store
from skillbox_store.testing_postgres import PostgresUnavailable, provide_postgres
from skillbox_store.urls import redact_url, url_scheme

__all__ = [
    "DEFAULT_URL",
    "THROWAWAY_POSTGRES",
    "URL_ENV",
    "StoreRunner",
    "TenantKey",
    "add_execution",
    "add_session_with_files",
    "add_tenant_with_key",
]

URL_ENV: Final = "SKILLBOX_STORE_TEST_URL"
DEFAULT_URL: Final = "memory://"
THROWAWAY_POSTGRES: Final = "postgresql+throwaway://"
"""The URL that asks for a throwaway PostgreSQL cluster, started once per session."""

_OPTION: Final = "--skillbox-store-url"
_POSTGRES_SCHEMES: Final = ("postgresql", "postgres")
_T = TypeVar("_T")


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--skillbox-store-url``."""
    parser.getgroup("skillbox-store").addoption(
        _OPTION,
        metavar="URL",
        default=None,
        help=(
            f"store the skillbox_store fixtures open (default: ${URL_ENV}, else "
            f"{DEFAULT_URL}); sqlite: a new file per test, postgresql: a new schema per "
            f"test, {THROWAWAY_POSTGRES}: a throwaway local PostgreSQL"
        ),
    )


def pytest_report_header(config: pytest.Config) -> str:
    """Say which store the tests run against, password masked."""
    return f"skillbox-store test store: {redact_url(_base_url(config))}"


def _base_url(config: pytest.Config) -> str:
    given: str | None = config.getoption(_OPTION)
    return given or os.environ.get(URL_ENV) or DEFAULT_URL


# -- a fresh store per test ---------------------------------------------------------------


def _split_schema(url: str) -> tuple[str, str | None]:
    """Return the PostgreSQL URL without its ``schema`` parameter, and that parameter."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schemas = [value for key, value in query if key == "schema"]
    rest = urlencode([(key, value) for key, value in query if key != "schema"])
    return urlunsplit(parts._replace(query=rest)), (schemas[-1] if schemas else None)


def _with_schema(url: str, schema: str) -> str:
    parts = urlsplit(url)
    query = f"{parts.query}&schema={schema}" if parts.query else f"schema={schema}"
    return urlunsplit(parts._replace(query=query))


class _MaskedURL(str):
    """A store URL whose repr masks its password.

    pytest prints the arguments of a failing test (``skillbox_store_url = '…'``) and
    assertion operands by their repr; the URL itself is unchanged for everything else.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(redact_url(self))


def _secrets(url: str) -> set[str]:
    """The password of ``url``, as written and percent-decoded, if it has one."""
    parts = urlsplit(url)
    found = {parts.password or ""}
    found |= {v for k, v in parse_qsl(parts.query, keep_blank_values=True) if k == "password"}
    return {form for secret in found for form in (secret, unquote(secret)) if form}


def _scrub(text: str, url: str) -> str:
    """Return ``text`` with every URL redacted and ``url``'s password masked anywhere.

    The backends redact their messages already; this is the plugin's own guarantee,
    for a third-party backend or a driver message that quotes its connection string.
    """
    text = redact_url(text)
    for secret in sorted(_secrets(url), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _fail(message: str, url: str) -> NoReturn:
    """Fail the test with ``message`` (secrets of ``url`` masked) and no traceback.

    Called outside any ``except`` block, so that no chained driver error, with its
    connection string among the frame's arguments, follows the message.
    """
    __tracebackhide__ = True
    pytest.fail(_scrub(message, url), pytrace=False)


def _server_error(server_url: str) -> str | None:
    """Why the PostgreSQL server of ``server_url`` cannot be reached, or None if it can."""
    __tracebackhide__ = True
    # Imported here: psycopg is only needed, and maybe only installed, for PostgreSQL.
    import psycopg

    try:
        with psycopg.connect(server_url, autocommit=True, connect_timeout=10):
            return None
    except psycopg.Error as exc:
        return f"{type(exc).__name__}: {exc}"


_SERVERS = pytest.StashKey[dict[str, str | None]]()
"""Per session, each PostgreSQL server URL's `_server_error`: asked once, not per test."""


def _check_server(config: pytest.Config, server_url: str) -> None:
    """Fail the test, in one line without secrets, if the server cannot be reached."""
    __tracebackhide__ = True
    known = config.stash.setdefault(_SERVERS, {})
    if server_url not in known:
        known[server_url] = _server_error(server_url)
    error = known[server_url]
    if error is not None:
        _fail(f"skillbox-store test store: cannot reach {server_url}: {error}", server_url)


def _drop_schema(server_url: str, schema: str) -> None:
    """Drop the test's schema; fail the test's teardown in one line if that fails."""
    __tracebackhide__ = True
    import psycopg
    from psycopg import sql

    error = None
    try:
        with psycopg.connect(server_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    except psycopg.Error as exc:
        error = f"{type(exc).__name__}: {exc}"
    if error is not None:
        _fail(f"skillbox-store test store: cannot drop schema {schema}: {error}", server_url)


@pytest.fixture(scope="session")
def _skillbox_throwaway_postgres() -> Iterator[str]:
    """The URL of a throwaway PostgreSQL cluster, started on first use, once a session."""
    try:
        with provide_postgres() as url:
            yield url
            return
    except PostgresUnavailable as exc:
        error = str(exc)
    pytest.fail(f"{THROWAWAY_POSTGRES}: no PostgreSQL server: {error}", pytrace=False)


@pytest.fixture
def skillbox_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL naming a fresh, empty store, for this test alone (see the module's doc).

    A PostgreSQL server that cannot be reached fails the test at setup, in one line
    with the password masked; the URL's repr masks its password too.
    """
    base = _base_url(request.config)
    if base == THROWAWAY_POSTGRES:
        base = request.getfixturevalue("_skillbox_throwaway_postgres")
    scheme = url_scheme(base)
    if scheme == "sqlite" and not base.endswith("/:memory:"):
        yield _MaskedURL(f"sqlite:///{tmp_path / 'skillbox.db'}")
    elif scheme in _POSTGRES_SCHEMES:
        server, _ = _split_schema(base)
        _check_server(request.config, server)
        schema = f"skillbox_test_{uuid.uuid4().hex[:16]}"
        try:
            yield _MaskedURL(_with_schema(server, schema))
        finally:
            _drop_schema(server, schema)
    else:
        yield _MaskedURL(base)


async def _open_fresh(skillbox_store_url: str) -> AsyncIterator[Store]:
    store = await _open_or_fail(skillbox_store_url)
    try:
        yield store
    finally:
        await store.close()


async def _open_or_fail(url: str) -> Store:
    """Open the store at ``url``; if it cannot be opened, fail the test in one line."""
    __tracebackhide__ = True
    try:
        return await open_store(url)
    except StoreError as exc:
        error = f"{type(exc).__name__}: {exc}"
    _fail(f"skillbox-store test store: cannot open {url}: {error}", url)


def _async_fixture() -> Callable[[Callable[..., Any]], Any]:
    """pytest-asyncio's fixture decorator when it is installed, else pytest's own.

    pytest-asyncio in strict mode (its default) runs only async fixtures declared with
    its decorator; anyio's plugin runs any async fixture an anyio test asks for.
    """
    try:
        import pytest_asyncio
    except ImportError:
        return pytest.fixture(name="skillbox_store")
    return pytest_asyncio.fixture(name="skillbox_store")


skillbox_store = _async_fixture()(_open_fresh)
"""An async fixture: a fresh, empty `Store`, open on the test's event loop."""


class StoreRunner:
    """A fresh store on an event loop of its own, for synchronous tests.

    ``runner.run(runner.store.list_keys("acme"))`` runs one call to completion. Every
    call must go through `run`: the store belongs to the runner's loop.
    """

    def __init__(self, url: str) -> None:
        self._runner = asyncio.Runner()
        self.url = url
        try:
            self.store: Store = self._runner.run(_opened(url))
        except BaseException:
            # No store to close, but the loop: the caller gets no runner to close.
            self._runner.close()
            raise

    def run(self, awaitable: Awaitable[_T]) -> _T:
        """Run ``awaitable`` (a store call, a helper, any coroutine) and return its result."""
        return self._runner.run(_awaited(awaitable))

    def close(self) -> None:
        """Close the store, then the loop."""
        try:
            self._runner.run(self.store.close())
        finally:
            self._runner.close()


async def _opened(url: str) -> Store:
    return await open_store(url)


async def _awaited(awaitable: Awaitable[_T]) -> _T:
    return await awaitable


@pytest.fixture
def skillbox_store_runner(skillbox_store_url: str) -> Iterator[StoreRunner]:
    """A `StoreRunner`: a fresh store and a loop to drive it, for synchronous tests."""
    runner = _runner_or_fail(skillbox_store_url)
    try:
        yield runner
    finally:
        runner.close()


def _runner_or_fail(url: str) -> StoreRunner:
    """A `StoreRunner` on ``url``; if the store cannot be opened, fail the test in one line."""
    __tracebackhide__ = True
    try:
        return StoreRunner(url)
    except StoreError as exc:
        error = f"{type(exc).__name__}: {exc}"
    _fail(f"skillbox-store test store: cannot open {url}: {error}", url)


# -- data helpers -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TenantKey:
    """A tenant's live API key: the plaintext a client would send, and the stored key."""

    tenant_id: str
    plaintext: str
    key: APIKey


def _new_tenant() -> str:
    return f"tenant-{uuid.uuid4().hex[:12]}"


async def add_tenant_with_key(
    store: Store, tenant_id: str | None = None, *, name: str = "test"
) -> TenantKey:
    """Create an API key for ``tenant_id`` (a new, unique tenant when None).

    The plaintext is what a client authenticates with: ``store.validate_key(
    hash_key(plaintext))`` returns the key.
    """
    tenant = tenant_id if tenant_id is not None else _new_tenant()
    plaintext, key_hash = generate_key()
    key = await store.create_key(tenant, name, key_hash)
    return TenantKey(tenant, plaintext, key)


async def add_execution(
    store: Store,
    tenant_id: str,
    *,
    skill_name: str = "skill",
    skill_version: str = "1",
    **fields: Any,
) -> Execution:
    """Create a ``running`` execution of the tenant; other `Execution` fields may be given.

    With a ``status`` other than ``running`` among ``fields`` it is inserted as it is
    (`Store.insert_execution`), as an execution that has already finished.
    """
    execution = Execution.model_validate(
        {
            "tenant_id": tenant_id,
            "skill_name": skill_name,
            "skill_version": skill_version,
            **fields,
        }
    )
    if execution.status == "running":
        return await store.create_execution(execution)
    return await store.insert_execution(execution)


async def add_session_with_files(
    store: Store,
    tenant_id: str,
    *,
    external_id: str | None = None,
    files: Sequence[str] = ("a.txt", "b.txt"),
) -> tuple[Session, list[File]]:
    """Create a session (``external_id``, or a new one) and one file per name in ``files``.

    Returns the session and its files in the order of ``files``.
    """
    session = await store.get_or_create_session(
        tenant_id, external_id if external_id is not None else f"session-{uuid.uuid4().hex}"
    )
    created = [
        await store.create_file(
            File(
                tenant_id=tenant_id,
                session_id=session.id,
                name=name,
                s3_key=f"{tenant_id}/{session.id}/{name}",
                size_bytes=0,
            )
        )
        for name in files
    ]
    return session, created
