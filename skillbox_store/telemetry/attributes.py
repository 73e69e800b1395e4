"""The names telemetry records, and the attributes that describe one store.

Attribute and metric names follow OpenTelemetry's database semantic conventions
(stable since semconv 1.33: ``db.system.name``, ``db.namespace``,
``db.operation.name``, ``server.address``, ``server.port``, ``error.type``); what the
conventions have no name for is under ``skillbox.``. Everything here is computed once,
when a store is instrumented, from the URL with its password already cut out
(`redact_url`): no attribute can carry a secret, because none is ever derived from the
raw URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final
from urllib.parse import parse_qsl, unquote, urlsplit

from skillbox_store.errors import StoreError
from skillbox_store.urls import redact_url, url_scheme

__all__ = [
    "CAPABILITY",
    "DB_NAMESPACE",
    "DB_OPERATION_NAME",
    "DB_SYSTEM_NAME",
    "ERROR_TYPE",
    "POOL_NAME",
    "POOL_STATE",
    "RETRIES",
    "RETURNED_ROWS",
    "SERVER_ADDRESS",
    "SERVER_PORT",
    "TENANT_ID",
    "StoreAttributes",
    "error_type",
    "store_attributes",
]

DB_SYSTEM_NAME: Final = "db.system.name"
DB_NAMESPACE: Final = "db.namespace"
DB_OPERATION_NAME: Final = "db.operation.name"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
ERROR_TYPE: Final = "error.type"
RETURNED_ROWS: Final = "db.response.returned_rows"
"""Records a listing returned (semconv's name; on listings and ``bulk_find`` only)."""
POOL_NAME: Final = "db.client.connection.pool.name"
POOL_STATE: Final = "db.client.connection.state"

CAPABILITY: Final = "skillbox.capability"
# How many times the backend ran the call's statement again on its own (a read after a
# dead connection, an insert that lost a race for a chain's head); absent when none.
RETRIES: Final = "skillbox.retries"
"""The optional capability (`skillbox_store.capabilities`) a call belongs to."""
TENANT_ID: Final = "skillbox.tenant_id"
"""The tenant a call is for: on spans only, and only when the operator opted in."""

# db.system.name of each built-in scheme: semconv's well-known values where there is
# one; the memory backend has none, and a third-party backend is named by its scheme.
_SYSTEMS: Final = {"postgresql": "postgresql", "postgres": "postgresql", "sqlite": "sqlite"}


@dataclass(frozen=True, slots=True)
class StoreAttributes:
    """What every span and measurement of one store carries, and the pool's name.

    Attributes:
        common: ``db.system.name`` and, when known, ``db.namespace``, ``server.address``
            and ``server.port``: low-cardinality, so they go on metrics too.
        namespace: ``db.namespace`` ("" when the store has none), the target in span
            names (``"get_file skillbox|sandbox"``).
        pool_name: the name of the store's connection pool in pool metrics
            (``address:port/namespace``), "" for a store without one.
    """

    common: Mapping[str, str | int]
    namespace: str
    pool_name: str


def _first_host(netloc: str) -> tuple[str, int | None]:
    """The first ``host[:port]`` of a (multi-host) netloc, user info already removed."""
    first = netloc.split(",", 1)[0]
    if first.startswith("["):  # IPv6: [::1]:5432
        host, _, rest = first[1:].partition("]")
        port_text = rest.removeprefix(":")
    else:
        host, _, port_text = first.partition(":")
    port = int(port_text) if port_text.isdigit() else None
    return unquote(host), port


def _postgres(url: str, schema: str | None) -> dict[str, str | int]:
    """Server and namespace of a PostgreSQL URL: ``db.namespace`` is ``database|schema``.

    Semconv's PostgreSQL page qualifies the database with the schema, joined by ``|``.
    Only what the URL says is recorded: libpq's defaults (``PGHOST``, the user's name as
    database) would need libpq to tell, and a wrong value is worse than none.
    """
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    host, port = _first_host(netloc)
    query = dict(parse_qsl(parts.query))
    host = query.get("host", host).split(",", 1)[0]
    port_text = query.get("port", "").split(",", 1)[0]
    if port_text.isdigit():
        port = int(port_text)
    database = query.get("dbname") or unquote(parts.path.lstrip("/"))
    found: dict[str, str | int] = {}
    namespace = "|".join(part for part in (database, schema or query.get("schema")) if part)
    if namespace:
        found[DB_NAMESPACE] = namespace
    # A socket directory is no server address (semconv: the peer's name or IP).
    if host and not host.startswith("/"):
        found[SERVER_ADDRESS] = host
        found[SERVER_PORT] = port if port is not None else 5432
    return found


def store_attributes(url: str, schema: str | None = None) -> StoreAttributes:
    """Return the attributes of the store that ``url`` opened (``schema``: its schema).

    ``db.namespace`` is ``database|schema`` for PostgreSQL, the database file as the
    URL names it for SQLite (``skillbox.db``, ``:memory:``), and absent for ``memory://``.
    """
    safe = redact_url(url)
    scheme = url_scheme(safe)
    system = _SYSTEMS.get(scheme, scheme or "other")
    common: dict[str, str | int] = {DB_SYSTEM_NAME: system}
    if system == "postgresql":
        common.update(_postgres(safe, schema))
    elif system == "sqlite":
        path = safe.split(":", 1)[1].removeprefix("//").removeprefix("/")
        if path:
            common[DB_NAMESPACE] = path
    namespace = str(common.get(DB_NAMESPACE, ""))
    pool_name = ""
    if SERVER_ADDRESS in common:
        pool_name = f"{common[SERVER_ADDRESS]}:{common[SERVER_PORT]}/{namespace}"
    return StoreAttributes(MappingProxyType(common), namespace, pool_name)


def error_type(exc: BaseException) -> str:
    """Return ``error.type`` for an exception: a store error's class name, else qualified.

    A `StoreError` subclass is named by its class alone (``NotFoundError``): the
    contract's names are the low-cardinality outcome dashboards group by. Anything else
    (a block's own exception, a cancellation) is qualified by its module, as semconv
    recommends, except builtins.
    """
    cls = type(exc)
    if isinstance(exc, StoreError) or cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"
