"""Row-level security: which rows each statement declares it may see, sent with it.

The tenant tables' policies (migrations ``0002_row_level_security.sql``, rewritten by
``0004_row_level_security_policies.sql`` so that the planner does no work on them)
admit only the rows of the tenant the current transaction declared in
``skillbox.tenant_id``, the key whose exact hash it declared in ``skillbox.key_hash``
(api_keys, reading only), or every row when it declared ``skillbox.scope = 'all'`` (the
operators' paths). A statement that declares nothing sees and changes nothing. So a
statement that forgets its ``tenant_id = %s`` still cannot reach another tenant's row.

Each declaration is made by the statement itself: `declarations` prefixes it with
``SET LOCAL skillbox.tenant_id = '…';`` and both go to the server as one query, in one
round trip, as one implicit transaction. The setting is local to that transaction: behind a
transaction-pooling proxy nothing is left for the next client, and inside a
``transaction()`` block each call declares anew (a block may touch several tenants).

Which declaration a statement makes is read from the statement, not written beside it:
the parameter bound to ``tenant_id`` (named ``%(tenant_id)s``, ``tenant_id = %s``, or
the ``tenant_id`` column of an ``INSERT … VALUES``), else the one bound to
``key_hash = %s``; the operators' statements are named in `ALL_TENANTS`. A statement
on a tenant table that is none of these is refused when the statements are built
(`undeclared`, checked by the tests), so a new statement cannot silently see nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any, Final

from skillbox_store.backends.postgres import statements
from skillbox_store.backends.postgres.statements import Statements

__all__ = [
    "ALL_TENANTS",
    "DECLARE_ALL",
    "TENANT_TABLES",
    "Declaration",
    "Declared",
    "declaration_for",
    "declarations",
    "declare",
    "declared_params",
    "undeclared",
]

TENANT_TABLES: Final = ("api_keys", "executions", "files", "sessions", "skills")

# The statements that serve every tenant on purpose, each for an operator's path: the
# totals of `status`, the bulk capability's snapshot reads (export, copy), and COPY in.
ALL_TENANTS: Final = frozenset(
    {
        "SELECT_TABLE_COUNTS",
        "SELECT_TABLE_COUNTS_ESTIMATED",
        "SELECT_TABLE_COUNTS_WANTED",
        "SELECT_BULK_TENANTS",
        "SELECT_BULK_KEYS",
        "SELECT_BULK_EXECUTIONS",
        "SELECT_BULK_FILES",
        "SELECT_BULK_SESSIONS",
        "SELECT_BULK_SKILLS",
    }
)

# Statements on the tables themselves (DDL), which no policy governs.
_ON_TABLES_NOT_ROWS: Final = frozenset({"ENABLE_RLS", "DISABLE_RLS"})

# SET LOCAL, not SELECT set_config(…, true): a utility statement, neither planned nor
# answered with a row. Measured (PostgreSQL 15, instructions of the backend): about
# 20-25k a query (parsing it, the setting's save and restore at commit), where
# set_config costs 55-60k; a point read alone is 220-350k. It takes no bound parameter,
# hence the client-side binding of the whole query (a literal, quoted by psycopg: the
# client's main extra cost, about 6 µs a call, 20 µs for the 14 values of an execution).
# Local to the query's implicit transaction, or to the open block's.
_DECLARE_TENANT: Final = "SET LOCAL skillbox.tenant_id = {param}; "
_DECLARE_KEY_HASH: Final = "SET LOCAL skillbox.key_hash = {param}; "
DECLARE_ALL: Final = "SET LOCAL skillbox.scope = 'all'; "

_PLACEHOLDER: Final = re.compile(r"%(?:\((\w+)\))?s")
_TABLE: Final = re.compile(r"\{schema\}\.(\w+)")
_INSERT_COLUMNS: Final = re.compile(r"^INSERT INTO \S+(?: AS \w+)? \(([^)]*)\) VALUES \(", re.I)


@dataclass(frozen=True, slots=True)
class Declaration:
    """What a statement declares: a setting and where its value is among the parameters.

    ``where`` is a parameter's name (named parameters) or position (positional ones);
    ``None`` for `ALL_TENANTS` statements, which declare a constant.
    """

    prefix: str
    where: str | int | None


def _positional_column(statement: str, column: str) -> int | None:
    """Return the position of the ``%s`` bound to ``column``, if one is."""
    insert = _INSERT_COLUMNS.match(statement)
    if insert is not None:
        columns = [name.strip() for name in insert.group(1).split(",")]
        if column in columns and "%(" not in statement:
            return columns.index(column)
    for position, placeholder in enumerate(_PLACEHOLDER.finditer(statement)):
        before = statement[: placeholder.start()]
        if re.search(rf"(?:^|[\s.(]){column}\s*=\s*$", before):
            return position
    return None


def _parameter(statement: str, column: str) -> str | int | None:
    names = [match.group(1) for match in _PLACEHOLDER.finditer(statement)]
    if any(names):
        return column if column in names else None
    return _positional_column(statement, column)


def declaration_for(name: str, statement: str) -> Declaration | None:
    """Return what statement ``name`` (its template, with ``{schema}``) must declare.

    ``None`` for a statement on no tenant table (migrations, ``SELECT 1``).

    Raises:
        ValueError: the statement reads or writes a tenant table but binds no tenant
            nor key hash and is not one of `ALL_TENANTS`: under row-level security it
            would see nothing.
    """
    if name in ALL_TENANTS:
        return Declaration(DECLARE_ALL, None)
    if name in _ON_TABLES_NOT_ROWS:
        return None
    if name.startswith(("COPY_", "INSERT_BULK_")):
        # COPY FROM refuses tables under row-level security: the bulk capability
        # inserts with INSERT statements instead when the store declares.
        return None
    if not set(_TABLE.findall(statement)) & set(TENANT_TABLES):
        return None
    tenant = _parameter(statement, "tenant_id")
    if tenant is not None:
        return Declaration(_DECLARE_TENANT, tenant)
    key_hash = _parameter(statement, "key_hash")
    if key_hash is not None:
        return Declaration(_DECLARE_KEY_HASH, key_hash)
    raise ValueError(
        f"statement {name} reads or writes a tenant table without binding tenant_id or "
        "key_hash: declare it in tenancy.ALL_TENANTS if it serves every tenant on purpose"
    )


def declare(declaration: Declaration, statement: bytes) -> bytes:
    """Return ``statement`` preceded by its declaration, as one query."""
    if declaration.where is None:
        return DECLARE_ALL.encode() + statement
    param = f"%({declaration.where})s" if isinstance(declaration.where, str) else "%s"
    return declaration.prefix.format(param=param).encode() + statement


def declared_params(declaration: Declaration, params: Any) -> Any:
    """Return the parameters of the declared statement: the declared value first."""
    where = declaration.where
    if where is None or isinstance(where, str):
        return params  # a constant, or named: the mapping serves both statements
    return (params[where], *params)


def undeclared(statements: Iterable[tuple[str, str]]) -> list[str]:
    """Return the names of the statements `declaration_for` refuses (for the tests)."""
    refused = []
    for name, statement in statements:
        try:
            declaration_for(name, statement)
        except ValueError:
            refused.append(name)
    return refused


Declared = dict[bytes, tuple[bytes, Declaration]]
"""Each statement as sent without row-level security, to the query that declares it."""


def declarations(sql: Statements) -> Declared:
    """Return every statement of ``sql`` that must declare, with its declaring query.

    Raises:
        ValueError: a statement on a tenant table declares nothing (`declaration_for`).
    """
    found: Declared = {}
    for spec in fields(sql):
        template = getattr(statements, spec.name, None)
        if not isinstance(template, str):
            continue
        declaration = declaration_for(spec.name, template)
        if declaration is not None:
            sent: bytes = getattr(sql, spec.name)
            found[sent] = (declare(declaration, sent), declaration)
    return found
