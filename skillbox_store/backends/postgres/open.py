"""`open_postgres_store`: URL and options to a migrated store on an open pool."""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, fields
from typing import Any, Final
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import AsyncClientCursor, AsyncConnection
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from skillbox_store.backends.postgres.connections import Row
from skillbox_store.backends.postgres.deadline import Deadlines
from skillbox_store.backends.postgres.errors import scrub, translate
from skillbox_store.backends.postgres.migrate import migrate as apply_migrations
from skillbox_store.backends.postgres.rls import RLS_MODES, RlsMode, RlsState, apply_rls, rls_state
from skillbox_store.backends.postgres.statements import Statements, check_schema
from skillbox_store.backends.postgres.store import DEFAULT_SCHEMA, PostgresStore
from skillbox_store.errors import InvalidArgumentError, StoreError, UnavailableError
from skillbox_store.urls import redact_url

__all__ = ["PostgresOptions", "open_postgres_store"]

# The store's own options a URL may carry (`PostgresOptions`), and their types. Not
# connect_timeout: that name is libpq's, and libpq keeps it.
_URL_OPTIONS: Final[dict[str, type]] = {
    "schema": str,
    "min_size": int,
    "max_size": int,
    "timeout": float,
    "max_idle": float,
    "max_lifetime": float,
    "check": bool,
    "prepare_threshold": int,
    "lock_timeout": float,
    "rls": str,
}
_NULLABLE_OPTIONS: Final = frozenset({"prepare_threshold", "lock_timeout"})
_BOOLEANS: Final = {"true": True, "false": False, "on": True, "off": False, "1": True, "0": False}

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
            ``None`` (the default) never prepares. Set it (psycopg's usual is 5) only
            when nothing but the server is at the other end of the connection, or a
            pooler that keeps prepared statements per client: behind a
            transaction-pooling proxy a prepared statement can run another client's
            query.
        lock_timeout: seconds a row-lock wait inside a ``transaction()`` block may
            last on the server before `UnavailableError`, set for each transaction
            only. ``None`` (the default): such waits, like every call, end at
            ``timeout``, when the store cancels the statement.
        rls: row-level security (`rls`): ``"on"`` (the default) enforces the tenant
            tables' policies and declares each statement's tenant; ``"required"`` also
            refuses to open where they would not protect (a superuser, BYPASSRLS);
            ``"off"`` turns enforcement off.

    Every option can also be given in the URL's query (``?timeout=2.5&max_size=20``,
    ``none`` for ``None``, ``true``/``false`` for ``check``); libpq's own
    ``connect_timeout`` stays libpq's. An option given both ways must agree.
    """

    schema: str = DEFAULT_SCHEMA
    min_size: int = 2
    max_size: int = 10
    timeout: float = 10.0
    connect_timeout: float = 10.0
    max_idle: float = 600.0
    max_lifetime: float = 3600.0
    check: bool = False
    prepare_threshold: int | None = None
    lock_timeout: float | None = None
    rls: RlsMode = "on"


def _options(given: dict[str, Any], in_url: dict[str, Any]) -> PostgresOptions:
    known = {spec.name for spec in fields(PostgresOptions)}
    unknown = sorted(set(given) - known)
    if unknown:
        raise InvalidArgumentError(
            f"unknown PostgreSQL store option(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(known))}"
        )
    values = dict(given)
    for name, value in in_url.items():
        if name in values and values[name] != value:
            raise InvalidArgumentError(
                f"{name} is given both in the URL ({value!r}) and as an option "
                f"({values[name]!r}); give it once"
            )
        values[name] = value
    options = PostgresOptions(**values)
    check_schema(options.schema)
    for name in ("min_size", "max_size"):
        if not isinstance(getattr(options, name), int) or getattr(options, name) < 0:
            raise InvalidArgumentError(f"{name} must be a non-negative integer")
    if options.max_size < max(options.min_size, 1):
        raise InvalidArgumentError("max_size must be at least 1 and at least min_size")
    for name in ("timeout", "connect_timeout", "max_idle", "max_lifetime"):
        if not _seconds(getattr(options, name)):
            raise InvalidArgumentError(f"{name} must be a positive, finite number of seconds")
    if options.lock_timeout is not None and not _seconds(options.lock_timeout):
        raise InvalidArgumentError(
            "lock_timeout must be None or a positive, finite number of seconds"
        )
    if options.rls not in RLS_MODES:
        raise InvalidArgumentError(f"rls must be one of {', '.join(RLS_MODES)}")
    threshold = options.prepare_threshold
    if threshold is not None and (not isinstance(threshold, int) or threshold < 0):
        raise InvalidArgumentError("prepare_threshold must be None or an integer >= 0")
    return options


def _url_number(name: str, text: str, where: str, kind: type[int] | type[float]) -> Any:
    if name in _NULLABLE_OPTIONS and text.lower() == "none":
        return None
    try:
        return kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number of seconds"
        nullable = " or none" if name in _NULLABLE_OPTIONS else ""
        raise InvalidArgumentError(
            f"PostgreSQL URL {where}: {name}={text!r} is not {what}{nullable}"
        ) from None


def _url_options(query: list[tuple[str, str]], where: str) -> dict[str, Any]:
    """Return the store options given in the URL's query, typed as the keywords are.

    The values are checked like keyword options afterwards (`_options`); here only
    their spelling.
    """
    found: dict[str, Any] = {}
    for name, text in query:
        kind = _URL_OPTIONS.get(name)
        if kind is None:
            continue
        if kind is str:
            found[name] = text
        elif kind is bool:
            flag = _BOOLEANS.get(text.lower())
            if flag is None:
                raise InvalidArgumentError(
                    f"PostgreSQL URL {where}: {name}={text!r} is not one of "
                    f"{', '.join(_BOOLEANS)}"
                )
            found[name] = flag
        else:
            found[name] = _url_number(name, text, where, kind)
    return found


def _seconds(value: object) -> bool:
    """Tell whether ``value`` is a duration the store can wait: positive and finite.

    NaN compares false with everything and infinity overflows every conversion to
    milliseconds or whole seconds that libpq and the timers need.
    """
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


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


def _split_url(url: str) -> tuple[str, dict[str, Any], str | None]:
    """Return the libpq conninfo, the store options in the URL, the password.

    The conninfo is the URL without the store's options, which libpq would refuse.

    Raises:
        InvalidArgumentError: the URL does not parse, or an option or its value is bad;
            the message never holds the password.
    """
    where = repr(redact_url(url))
    try:
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=False)
        secret = parts.password
        in_url = _url_options(query, where)
        rest = urlencode([(key, value) for key, value in query if key not in _URL_OPTIONS])
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
    return conninfo, in_url, (str(password) if password else None)


def _connection_kwargs(conninfo: str, options: PostgresOptions) -> dict[str, Any]:
    """The keyword arguments of every connection: the direct one and the pool's alike.

    Identical, so that any option libpq refuses fails on the direct connection, with
    its reason, instead of making the pool retry until its timeout.
    """
    # No start-up ``options`` of our own: stock PgBouncer refuses the parameter, and
    # one that ignores it would drop the setting silently. Every bound the store keeps
    # is set per transaction or kept by the client (see connections.py).
    kwargs: dict[str, Any] = {"autocommit": True, "prepare_threshold": options.prepare_threshold}
    given = conninfo_to_dict(conninfo)
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
        # The migrating connection never prepares: a migration file is many statements
        # in one query, which PostgreSQL refuses to prepare (prepare_threshold=0 would).
        kwargs = {**_connection_kwargs(conninfo, options), "prepare_threshold": None}
        async with asyncio.timeout(options.connect_timeout):
            return await AsyncConnection.connect(conninfo, **kwargs)
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
        # libpq's own words say what failed ("Connection refused", "database … does not
        # exist", a proxy's "unsupported startup parameter"); a hint of ours would only
        # guess, and libpq gives a failed start-up no SQLSTATE to tell by.
        cause = translate(exc, password=password)
        raise type(cause)(
            f"cannot connect to PostgreSQL at {where}: {scrub(str(exc), password).strip()}"
        ) from None


async def open_postgres_store(url: str, *, migrate: bool = True, **options: Any) -> PostgresStore:
    """Open a pool on ``url``, migrate the schema unless told not to, return the store.

    Options are the fields of `PostgresOptions`.

    Raises:
        InvalidArgumentError: the URL is malformed or an option is unknown or bad.
        UnavailableError: the server cannot be reached or refuses the credentials.
        MigrationError: the schema cannot be brought to this version.
    """
    conninfo, in_url, password = _split_url(url)
    settings = _options(options, in_url)
    sql = Statements.for_schema(settings.schema)
    # connect_timeout bounds the whole opening: connecting, waiting for another
    # process's migrations, and filling the pool.
    deadline = time.monotonic() + settings.connect_timeout
    # One direct connection first: its failure says why (a pool would only time out),
    # and it runs the migrations before any pooled connection caches a plan.
    conn = await _connect(conninfo, url, settings, password)
    try:
        with Deadlines(max(0.001, deadline - time.monotonic())).start():
            if migrate:
                await apply_migrations(conn, sql, lock_timeout=deadline - time.monotonic())
                rls = await apply_rls(conn, sql, settings.rls)
            else:
                rls = await _rls_unmigrated(conn, sql, settings.rls)
    except TimeoutError:
        raise UnavailableError(
            f"migrating PostgreSQL at {redact_url(url)} did not finish within "
            f"connect_timeout ({settings.connect_timeout} s)"
        ) from None
    except StoreError:
        raise
    except psycopg.Error as exc:
        raise translate(exc, password=password) from exc
    finally:
        await conn.close()
    kwargs = _connection_kwargs(conninfo, settings)
    if rls.declaring:
        # Every tenant statement goes with its declaration as one query of two
        # statements, which only client-side binding can send (tenancy.py).
        kwargs["cursor_factory"] = AsyncClientCursor
    pool: AsyncConnectionPool[AsyncConnection[Row]] = AsyncConnectionPool(
        conninfo,
        connection_class=AsyncConnection[Row],
        kwargs=kwargs,
        min_size=settings.min_size,
        max_size=settings.max_size,
        timeout=settings.timeout,
        max_idle=settings.max_idle,
        max_lifetime=settings.max_lifetime,
        check=AsyncConnectionPool.check_connection if settings.check else None,
        # psycopg_pool doubles its wait between attempts and gives up after
        # reconnect_timeout; a short window restarted on every give-up keeps the waits
        # short and the attempts going for as long as the server is away.
        reconnect_timeout=_RECONNECT_WINDOW,
        reconnect_failed=_keep_reconnecting,
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
    return PostgresStore(
        pool,
        schema=settings.schema,
        owns_pool=True,
        password=password,
        lock_timeout=settings.lock_timeout,
        rls=rls,
    )


async def _rls_unmigrated(
    conn: AsyncConnection[Row], sql: Statements, mode: RlsMode
) -> RlsState:
    """The state of a schema opened with ``migrate=False``: read, never changed.

    A schema not there yet is checked at the first call (SchemaOutdatedError); until
    then, declaring is harmless.
    """
    try:
        return await rls_state(conn, sql, mode)
    except psycopg.errors.InvalidSchemaName:
        return RlsState(mode, enforced=False, bypassed=False, declaring=True)


# Attempts at once, 1 s and 2 s apart, a last one at the window's end, then a new
# window: while the server is away, never more than 2 s between attempts, for as long
# as it takes (each give-up is logged by psycopg_pool as a warning).
_RECONNECT_WINDOW: Final = 4.0
# The leases that restart reconnection, kept so that none is collected while it waits.
_RECONNECTING: Final[set[asyncio.Task[None]]] = set()


def _keep_reconnecting(pool: AsyncConnectionPool[Any]) -> None:
    """Start a new round of connection attempts when the pool has given one up.

    psycopg_pool otherwise tries again only when a caller asks for a connection after
    the give-up, not for the callers already waiting. A lease asked for here makes the
    pool grow again, in the background (this runs in the pool's maintenance worker).
    """
    if pool.closed:
        return
    task = asyncio.ensure_future(_lease(pool))
    _RECONNECTING.add(task)
    task.add_done_callback(_RECONNECTING.discard)


async def _lease(pool: AsyncConnectionPool[Any]) -> None:
    try:
        async with pool.connection(timeout=_RECONNECT_WINDOW):
            pass
    except Exception:
        # The pool logs its attempts; a failed one has started the next round.
        return
