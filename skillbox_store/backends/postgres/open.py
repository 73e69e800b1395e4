"""`open_postgres_store`: URL and options to a migrated store on an open pool."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, fields
from typing import Any, Final
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import AsyncConnection
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from skillbox_store.backends.postgres.connections import Row
from skillbox_store.backends.postgres.errors import scrub, translate
from skillbox_store.backends.postgres.migrate import migrate as apply_migrations
from skillbox_store.backends.postgres.statements import Statements, check_schema
from skillbox_store.backends.postgres.store import DEFAULT_SCHEMA, PostgresStore
from skillbox_store.errors import InvalidArgumentError, StoreError, UnavailableError
from skillbox_store.urls import redact_url

__all__ = ["PostgresOptions", "open_postgres_store"]

_SCHEMA_PARAM: Final = "schema"

# libpq checks a connection option's value only when it connects, and the pool would
# retry a bad one until its timeout: the options whose values are a closed set or an
# integer are checked here, at once (libpq's names; one it lacks fails to parse).
_OPTION_CHOICES: Final = {
    "sslmode": ("disable", "allow", "prefer", "require", "verify-ca", "verify-full"),
    "gssencmode": ("disable", "prefer", "require"),
    "channel_binding": ("disable", "prefer", "require"),
    "sslcertmode": ("disable", "allow", "require"),
    "sslnegotiation": ("postgres", "direct"),
    "load_balance_hosts": ("disable", "random"),
    "target_session_attrs": (
        "any",
        "read-write",
        "read-only",
        "primary",
        "standby",
        "prefer-standby",
    ),
}
_INTEGER_OPTIONS: Final = (
    "connect_timeout",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
)


@dataclass(frozen=True, slots=True)
class PostgresOptions:
    """The options `open_store` accepts for ``postgresql://`` URLs.

    Attributes:
        schema: the schema of the tables (also ``?schema=`` in the URL): 1 to 63
            characters of a-z, 0-9 and _, not starting with a digit, no system schema.
        min_size: connections the pool keeps open.
        max_size: connections the pool opens at most; ``transaction()`` blocks hold one.
        timeout: seconds a call waits, in all, for a live pooled connection before
            `UnavailableError` (a busy pool or a server down alike).
        connect_timeout: seconds the whole opening may take (connecting, waiting for
            another process's migrations, filling the pool) before `UnavailableError`.
        max_idle: seconds an idle connection above ``min_size`` is kept.
        max_lifetime: seconds after which a connection is replaced.
        check: test each connection before lending it (one more round trip per call;
            the store already retries reads once on a dead connection).
        prepare_threshold: executions of a statement before a connection prepares it;
            ``None`` never prepares (needed behind PgBouncer's transaction pooling).
        lock_timeout: seconds a statement waits for a row lock another transaction
            holds (another task's open block) before `UnavailableError`; by default
            ``timeout``. ``None`` waits as long as the holder keeps it, and is needed
            behind a PgBouncer that refuses the ``options`` start-up parameter.
    """

    schema: str = DEFAULT_SCHEMA
    min_size: int = 2
    max_size: int = 10
    timeout: float = 10.0
    connect_timeout: float = 10.0
    max_idle: float = 600.0
    max_lifetime: float = 3600.0
    check: bool = False
    prepare_threshold: int | None = 5
    lock_timeout: float | None = timeout


def _options(given: dict[str, Any], url_schema: str | None) -> PostgresOptions:
    known = {spec.name for spec in fields(PostgresOptions)}
    unknown = sorted(set(given) - known)
    if unknown:
        raise InvalidArgumentError(
            f"unknown PostgreSQL store option(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(known))}"
        )
    values = dict(given)
    if url_schema is not None:
        if "schema" in values and values["schema"] != url_schema:
            raise InvalidArgumentError("schema is given both in the URL and as an option")
        values["schema"] = url_schema
    if "lock_timeout" not in values and "timeout" in values:
        values["lock_timeout"] = values["timeout"]
    options = PostgresOptions(**values)
    check_schema(options.schema)
    for name in ("min_size", "max_size"):
        if not isinstance(getattr(options, name), int) or getattr(options, name) < 0:
            raise InvalidArgumentError(f"{name} must be a non-negative integer")
    if options.max_size < max(options.min_size, 1):
        raise InvalidArgumentError("max_size must be at least 1 and at least min_size")
    for name in ("timeout", "connect_timeout", "max_idle", "max_lifetime"):
        value = getattr(options, name)
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            raise InvalidArgumentError(f"{name} must be a positive number of seconds")
    lock_timeout = options.lock_timeout
    if lock_timeout is not None and (
        not isinstance(lock_timeout, int | float)
        or isinstance(lock_timeout, bool)
        or lock_timeout <= 0
    ):
        raise InvalidArgumentError("lock_timeout must be None or a positive number of seconds")
    threshold = options.prepare_threshold
    if threshold is not None and (not isinstance(threshold, int) or threshold < 0):
        raise InvalidArgumentError("prepare_threshold must be None or an integer >= 0")
    return options


def _check_option_values(params: dict[str, Any], where: str) -> None:
    """Refuse a libpq option value that could only fail when connecting."""
    for name, allowed in _OPTION_CHOICES.items():
        value = params.get(name)
        if value is not None and str(value) not in allowed:
            raise InvalidArgumentError(
                f"PostgreSQL URL {where}: {name}={str(value)!r} is not one of {', '.join(allowed)}"
            )
    numbers = [(name, params.get(name)) for name in _INTEGER_OPTIONS]
    # A multi-host URL gives one port per host, comma-separated (empty: the default).
    numbers += [("port", port) for port in str(params.get("port") or "").split(",") if port]
    for name, value in numbers:
        if value is None:
            continue
        try:
            int(str(value).strip())
        except ValueError:
            raise InvalidArgumentError(
                f"PostgreSQL URL {where}: {name}={str(value)!r} is not an integer"
            ) from None


def _split_url(url: str) -> tuple[str, str | None, str | None]:
    """Return the libpq conninfo (without ``schema``), the URL's schema, its password.

    Raises:
        InvalidArgumentError: the URL does not parse, or an option or its value is bad;
            the message never holds the password.
    """
    where = repr(redact_url(url))
    try:
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=False)
        secret = parts.password
        schemas = [value for key, value in query if key == _SCHEMA_PARAM]
        rest = urlencode([(key, value) for key, value in query if key != _SCHEMA_PARAM])
        conninfo = urlunsplit(parts._replace(query=rest))
        params = conninfo_to_dict(conninfo)
    except UnicodeError:
        # Percent-encoding and libpq take bytes: a lone surrogate has none.
        raise InvalidArgumentError(
            f"malformed PostgreSQL URL {where}: it holds a character that is not valid "
            "Unicode (a lone surrogate)"
        ) from None
    except ValueError as exc:
        raise InvalidArgumentError(f"malformed PostgreSQL URL {where}: {exc}") from None
    except psycopg.Error as exc:
        # libpq quotes the offending token, which may be the password, as typed or
        # percent-decoded.
        message = scrub(scrub(str(exc), secret), unquote(secret or ""))
        raise InvalidArgumentError(f"malformed PostgreSQL URL {where}: {message}") from None
    _check_option_values(params, where)
    password = params.get("password")
    return conninfo, (schemas[-1] if schemas else None), (str(password) if password else None)


def _connection_kwargs(conninfo: str, options: PostgresOptions) -> dict[str, Any]:
    """The keyword arguments of every connection: the direct one and the pool's alike.

    Identical, so that any option libpq refuses fails on the direct connection, with
    its reason, instead of making the pool retry until its timeout.
    """
    kwargs: dict[str, Any] = {"autocommit": True, "prepare_threshold": options.prepare_threshold}
    given = conninfo_to_dict(conninfo)
    if options.lock_timeout is not None:
        # A row lock held by another open block would otherwise keep a call waiting
        # past every timeout the caller set. Set at start-up, not with SET, so that no
        # round trip is added and a transaction-pooling proxy cannot carry it to
        # another client's session.
        milliseconds = max(1, round(options.lock_timeout * 1000))
        extra = f"-c lock_timeout={milliseconds}"
        kwargs["options"] = f"{given['options']} {extra}" if given.get("options") else extra
    if "connect_timeout" not in given:
        # libpq's own bound, for the pool's reconnections too (psycopg's default is
        # 130 s); it counts whole seconds, at least 2.
        kwargs["connect_timeout"] = max(2, int(options.connect_timeout))
    return kwargs


async def _connect(
    conninfo: str, url: str, options: PostgresOptions, password: str | None
) -> AsyncConnection[Row]:
    """Open one connection, bounded by ``connect_timeout``, with an actionable error."""
    where = redact_url(url)
    try:
        async with asyncio.timeout(options.connect_timeout):
            return await AsyncConnection.connect(conninfo, **_connection_kwargs(conninfo, options))
    except TimeoutError:
        raise UnavailableError(
            f"cannot reach PostgreSQL at {where}: no answer within connect_timeout "
            f"({options.connect_timeout} s)"
        ) from None
    except psycopg.ProgrammingError as exc:
        # Raised by psycopg before any I/O: a connection parameter it cannot use.
        raise InvalidArgumentError(
            f"PostgreSQL URL {where!r}: {scrub(str(exc), password).strip()}"
        ) from None
    except psycopg.Error as exc:
        cause = translate(exc, password=password)
        raise type(cause)(
            f"cannot connect to PostgreSQL at {where}: {scrub(str(exc), password).strip()} "
            "(check host, port, database, user and password)"
        ) from None


async def open_postgres_store(url: str, *, migrate: bool = True, **options: Any) -> PostgresStore:
    """Open a pool on ``url``, migrate the schema unless told not to, return the store.

    Options are the fields of `PostgresOptions`.

    Raises:
        InvalidArgumentError: the URL is malformed or an option is unknown or bad.
        UnavailableError: the server cannot be reached or refuses the credentials.
        MigrationError: the schema cannot be brought to this version.
    """
    conninfo, url_schema, password = _split_url(url)
    settings = _options(options, url_schema)
    sql = Statements.for_schema(settings.schema)
    # connect_timeout bounds the whole opening: connecting, waiting for another
    # process's migrations, and filling the pool.
    deadline = time.monotonic() + settings.connect_timeout
    # One direct connection first: its failure says why (a pool would only time out),
    # and it runs the migrations before any pooled connection caches a plan.
    conn = await _connect(conninfo, url, settings, password)
    try:
        if migrate:
            await apply_migrations(conn, sql, lock_timeout=deadline - time.monotonic())
    except StoreError:
        raise
    except psycopg.Error as exc:
        raise translate(exc, password=password) from exc
    finally:
        await conn.close()
    pool: AsyncConnectionPool[AsyncConnection[Row]] = AsyncConnectionPool(
        conninfo,
        connection_class=AsyncConnection[Row],
        kwargs=_connection_kwargs(conninfo, settings),
        min_size=settings.min_size,
        max_size=settings.max_size,
        timeout=settings.timeout,
        max_idle=settings.max_idle,
        max_lifetime=settings.max_lifetime,
        check=AsyncConnectionPool.check_connection if settings.check else None,
        reconnect_timeout=max(settings.connect_timeout, 30.0),
        name=f"skillbox-store {redact_url(url)}",
        open=False,
    )
    try:
        await pool.open(wait=True, timeout=max(0.001, deadline - time.monotonic()))
    except PoolTimeout:
        await pool.close()
        raise UnavailableError(
            f"cannot open a pool of {settings.min_size} connections to PostgreSQL at "
            f"{redact_url(url)} within connect_timeout ({settings.connect_timeout} s)"
        ) from None
    except BaseException:
        await pool.close()
        raise
    return PostgresStore(pool, schema=settings.schema, owns_pool=True, password=password)
