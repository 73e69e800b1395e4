"""Selecting a backend by URL: `open_store`.

Built-in schemes are ``memory``, ``sqlite``, ``postgresql`` and ``postgres``. Any other
scheme is looked up in the entry-point group ``skillbox_store.backends``: an entry point
named after the scheme names an async factory ``(url: str, **options) -> Store``.
``migrate`` reaches the factory among the options.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Generator
from importlib.metadata import entry_points
from types import TracebackType
from typing import Any, Final

from skillbox_store.errors import InvalidArgumentError, StoreError
from skillbox_store.store import Store
from skillbox_store.urls import redact_url, url_scheme

__all__ = ["ENTRY_POINT_GROUP", "StoreFactory", "available_schemes", "open_store"]

ENTRY_POINT_GROUP: Final = "skillbox_store.backends"

StoreFactory = Callable[..., Awaitable[Store]]
"""An async callable ``(url: str, **options) -> Store`` that opens a backend."""

# scheme -> (module, factory name, extra that brings its driver)
_BUILT_IN: Final[dict[str, tuple[str, str, str | None]]] = {
    "memory": ("skillbox_store.backends.memory", "open_memory_store", None),
    "sqlite": ("skillbox_store.backends.sqlite", "open_sqlite_store", "sqlite"),
    "postgresql": ("skillbox_store.backends.postgres", "open_postgres_store", "postgres"),
    "postgres": ("skillbox_store.backends.postgres", "open_postgres_store", "postgres"),
}


def available_schemes() -> list[str]:
    """Return the URL schemes that `open_store` knows: built-in, then entry points."""
    plugged = {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return sorted(_BUILT_IN) + sorted(plugged - set(_BUILT_IN))


def _built_in_factory(scheme: str) -> StoreFactory:
    module_name, attribute, extra = _BUILT_IN[scheme]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        hint = f"pip install 'skillbox-store[{extra}]'" if extra else "reinstall skillbox-store"
        raise InvalidArgumentError(
            f"the {scheme}:// backend needs a driver that is not installed ({exc.name}); "
            f"install it with: {hint}"
        ) from exc
    factory: StoreFactory = getattr(module, attribute)
    return factory


def _factory_for(url: str) -> StoreFactory:
    if not isinstance(url, str):
        raise InvalidArgumentError(f"store URL must be a string, not {type(url).__name__}")
    scheme = url_scheme(url)
    if scheme in _BUILT_IN:
        return _built_in_factory(scheme)
    for ep in entry_points(group=ENTRY_POINT_GROUP, name=scheme) if scheme else ():
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


async def _open(url: str, migrate: bool, options: dict[str, Any]) -> Store:
    factory = _factory_for(url)
    store = await factory(url, migrate=migrate, **options)
    if not isinstance(store, Store):
        raise StoreError(
            f"the backend for {url_scheme(url)}:// returned {type(store).__name__}, "
            "which does not implement skillbox_store.Store"
        )
    return store


class _OpeningStore:
    """What `open_store` returns: await it, or use it as an async context manager."""

    __slots__ = ("_migrate", "_options", "_store", "_url")

    def __init__(self, url: str, migrate: bool, options: dict[str, Any]) -> None:
        self._url = url
        self._migrate = migrate
        self._options = options
        self._store: Store | None = None

    def __await__(self) -> Generator[Any, None, Store]:
        return _open(self._url, self._migrate, self._options).__await__()

    async def __aenter__(self) -> Store:
        self._store = await _open(self._url, self._migrate, self._options)
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


def open_store(url: str, *, migrate: bool = True, **options: Any) -> _OpeningStore:
    """Open the store that ``url`` names; migrate its schema first unless told not to.

    ``await open_store(url)`` returns the store; ``async with open_store(url) as store:``
    also closes it at the end. Options go to the backend (for PostgreSQL, pool sizes and
    timeouts; see each backend's factory).

    Raises:
        InvalidArgumentError: the URL is malformed, its scheme is unknown (the message
            lists the installed ones), or an option is not the backend's.
        UnavailableError: the database cannot be reached.
        MigrationError: the schema cannot be brought to this version.
    """
    return _OpeningStore(url, migrate, options)
