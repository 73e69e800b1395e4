"""Selecting a backend by URL: `open_store`.

Built-in schemes are ``memory``, ``sqlite``, ``postgresql`` and ``postgres``. Any other
scheme is looked up in the entry-point group ``skillbox_store.backends``: an entry point
named after the scheme names an async factory ``(url: str, **options) -> Store``.
``migrate`` reaches the factory among the options.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Generator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, NoReturn, TypeAlias

from skillbox_store.errors import InvalidArgumentError, SchemaOutdatedError, StoreError
from skillbox_store.urls import redact_url, url_scheme

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    from skillbox_store.store import Store
    from skillbox_store.telemetry.settings import TelemetrySetting

__all__ = ["ENTRY_POINT_GROUP", "StoreFactory", "available_schemes", "open_store"]

ENTRY_POINT_GROUP: Final = "skillbox_store.backends"

StoreFactory: TypeAlias = "Callable[..., Awaitable[Store]]"
"""An async callable ``(url: str, **options) -> Store`` that opens a backend."""

# scheme -> (module, factory name, extra that brings its driver)
_BUILT_IN: Final[dict[str, tuple[str, str, str | None]]] = {
    "memory": ("skillbox_store.backends.memory", "open_memory_store", None),
    "sqlite": ("skillbox_store.backends.sqlite", "open_sqlite_store", "sqlite"),
    "postgresql": ("skillbox_store.backends.postgres", "open_postgres_store", "postgres"),
    "postgres": ("skillbox_store.backends.postgres", "open_postgres_store", "postgres"),
}


def _entry_points() -> tuple[EntryPoint, ...]:
    # Imported on use: importlib.metadata scans every installed distribution, which
    # only a third-party scheme (or the list of schemes) needs.
    from importlib.metadata import entry_points

    return tuple(entry_points(group=ENTRY_POINT_GROUP))


def available_schemes() -> list[str]:
    """Return the URL schemes that `open_store` knows: built-in, then entry points."""
    plugged = {ep.name for ep in _entry_points()}
    return sorted(_BUILT_IN) + sorted(plugged - set(_BUILT_IN))


def _built_in_factory(scheme: str) -> StoreFactory:
    module_name, attribute, extra = _BUILT_IN[scheme]
    try:
        # The attribute too: a backend package may import its modules, and with them
        # its driver, only when the factory is asked for (sqlite's does).
        factory: StoreFactory = getattr(importlib.import_module(module_name), attribute)
    except ImportError as exc:
        hint = f"pip install 'skillbox-store[{extra}]'" if extra else "reinstall skillbox-store"
        raise InvalidArgumentError(
            f"the {scheme}:// backend needs a driver that is not installed ({exc.name}); "
            f"install it with: {hint}"
        ) from exc
    return factory


def _factory_for(url: str) -> StoreFactory:
    if not isinstance(url, str):
        raise InvalidArgumentError(f"store URL must be a string, not {type(url).__name__}")
    scheme = url_scheme(url)
    if scheme in _BUILT_IN:
        return _built_in_factory(scheme)
    plugged = [ep for ep in _entry_points() if ep.name == scheme] if scheme else []
    for ep in plugged:
        try:
            loaded: StoreFactory = ep.load()
        except Exception as exc:
            raise StoreError(
                f"the backend for {scheme}:// ({ep.value}) failed to load: {exc}"
            ) from exc
        return loaded
    known = ", ".join(f"{name}://" for name in available_schemes())
    what = f"unknown scheme {scheme!r}" if scheme else "no scheme"
    raise InvalidArgumentError(
        f"cannot open store {redact_url(url)!r}: {what}; installed schemes: {known}"
    )


async def _check_schema(store: Store, url: str) -> None:
    """Raise `SchemaOutdatedError` when a built-in backend's schema is behind this code.

    Only built-in schemes: their versions are this package's migration numbers, while
    a third-party backend numbers its schema as it likes.
    """
    from skillbox_store.migrations import latest_version

    needed = latest_version()
    found = await store.schema_version()
    if found < needed:
        raise SchemaOutdatedError(found, needed, url)


async def _open(
    url: str, migrate: bool, check_schema: bool, telemetry: object, options: dict[str, Any]
) -> Store:
    from skillbox_store import telemetry as otel
    from skillbox_store.store import Store

    # Decided before opening, so a bad setting opens nothing; None leaves the store
    # unwrapped: off costs nothing per call (skillbox_store.telemetry.settings).
    wanted = otel.resolve(telemetry)
    factory = _factory_for(url)
    store = await factory(url, migrate=migrate, **options)
    if not isinstance(store, Store):
        raise StoreError(
            f"the backend for {url_scheme(url)}:// returned {type(store).__name__}, "
            "which does not implement skillbox_store.Store"
        )
    if not migrate and check_schema and url_scheme(url) in _BUILT_IN:
        try:
            await _check_schema(store, url)
        except BaseException:
            await store.close()
            raise
    return store if wanted is None else otel.instrument(store, url, wanted)


_HOW_TO_OPEN: Final = (
    "write `async with open_store(url) as store:` (closes the store at the end) "
    "or `store = await open_store(url)` (then `await store.close()`)"
)


class _OpeningStore:
    """What `open_store` returns: await it, or use it as an async context manager.

    Nothing is opened until then: an `_OpeningStore` never awaited holds no connection.
    The two usual slips, ``with open_store(...)`` and a forgotten ``await``, raise an
    error that says what to write instead of Python's bare protocol error.
    """

    __slots__ = ("_check_schema", "_migrate", "_options", "_store", "_telemetry", "_url")

    def __init__(
        self,
        url: str,
        migrate: bool,
        check_schema: bool,
        telemetry: object,
        options: dict[str, Any],
    ) -> None:
        self._url = url
        self._migrate = migrate
        self._check_schema = check_schema
        self._telemetry = telemetry
        self._options = options
        self._store: Store | None = None

    def _open(self) -> Awaitable[Store]:
        return _open(self._url, self._migrate, self._check_schema, self._telemetry, self._options)

    def __await__(self) -> Generator[Any, None, Store]:
        return self._open().__await__()

    async def __aenter__(self) -> Store:
        self._store = await self._open()
        return self._store

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        store, self._store = self._store, None
        if store is not None:
            await store.close()

    def __enter__(self) -> NoReturn:
        raise TypeError(
            f"open_store() is asynchronous, not a plain context manager: {_HOW_TO_OPEN}"
        )

    def __exit__(self, *exc_info: object) -> None:
        """Never reached: `__enter__` refuses; defined so that `with` calls it."""

    def __getattr__(self, name: str) -> NoReturn:
        # Only reached for names the object lacks: a store method called on the
        # opener, because the `await` was forgotten.
        raise AttributeError(
            f"open_store() returns an opener, not the store: it has no {name!r} until it "
            f"is awaited; {_HOW_TO_OPEN}",
            name=name,
            obj=self,
        )


def open_store(
    url: str,
    *,
    migrate: bool = True,
    check_schema: bool = True,
    telemetry: TelemetrySetting = None,
    **options: Any,
) -> _OpeningStore:
    """Open the store that ``url`` names; migrate its schema first unless told not to.

    ``await open_store(url)`` returns the store; ``async with open_store(url) as store:``
    also closes it at the end. Options go to the backend (for PostgreSQL, pool sizes and
    timeouts; see each backend's factory). With ``migrate=False`` a built-in backend
    whose schema is behind this code is refused at once (`SchemaOutdatedError`), unless
    ``check_schema=False``, which opens it anyway for tools that inspect or migrate the
    schema itself (only `ping`, `schema_version` and `close` are then safe to call).

    ``telemetry`` turns OpenTelemetry spans and metrics on (``True``, or a
    `skillbox_store.telemetry.Telemetry` with settings) or off (``False``); by default
    the environment decides (``SKILLBOX_STORE_TELEMETRY``: on when an SDK is
    configured). Off, the store returned is the backend's own, at no cost per call; see
    docs/observability.md.

    Raises:
        InvalidArgumentError: the URL is malformed, its scheme is unknown (the message
            lists the installed ones), an option is not the backend's, or telemetry
            is asked for without ``opentelemetry-api`` installed.
        UnavailableError: the database cannot be reached.
        MigrationError: the schema cannot be brought to this version;
            `SchemaOutdatedError` (a `MigrationError`) when ``migrate=False`` finds it
            behind, naming the versions and the command that migrates it.
    """
    return _OpeningStore(url, migrate, check_schema, telemetry, options)
