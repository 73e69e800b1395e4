"""skillbox-store: the storage layer of Skillbox.

One async contract, `Store`, and backends chosen by URL through `open_store`::

    async with open_store("sqlite:///skillbox.db") as store:
        key = await store.create_key("tenant-a", "ci", hash_key(plaintext))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from skillbox_store._version import __version__ as __version__
from skillbox_store.errors import (
    AlreadyExistsError,
    AlreadyFinishedError,
    AlreadyRevokedError,
    ConflictError,
    InvalidArgumentError,
    MigrationError,
    NotFoundError,
    SchemaOutdatedError,
    StoreError,
    UnavailableError,
)
from skillbox_store.keys import generate_key, hash_key
from skillbox_store.lazy import lazy_names

if TYPE_CHECKING:
    from skillbox_store.adopt import AdoptionReport, adopt_go_database
    from skillbox_store.open import available_schemes, open_store
    from skillbox_store.records import (
        EXECUTION_STATUSES,
        APIKey,
        Execution,
        ExecutionStatus,
        File,
        FileFilter,
        RetentionReport,
        Session,
        SkillRecord,
    )
    from skillbox_store.store import Store

# Imported on first use (PEP 562 ``__getattr__``): the records are SQLModel classes, and
# SQLModel, SQLAlchemy and pydantic take most of a start-up that the command line's
# help, and a program that only needs the errors, should not pay. The names above
# under TYPE_CHECKING are what type checkers see; keep the two lists in step.
_LAZY: Final = {
    "AdoptionReport": "skillbox_store.adopt",
    "adopt_go_database": "skillbox_store.adopt",
    "available_schemes": "skillbox_store.open",
    "open_store": "skillbox_store.open",
    "EXECUTION_STATUSES": "skillbox_store.records",
    "APIKey": "skillbox_store.records",
    "Execution": "skillbox_store.records",
    "ExecutionStatus": "skillbox_store.records",
    "File": "skillbox_store.records",
    "FileFilter": "skillbox_store.records",
    "RetentionReport": "skillbox_store.records",
    "Session": "skillbox_store.records",
    "SkillRecord": "skillbox_store.records",
    "Store": "skillbox_store.store",
}


__getattr__, __dir__ = lazy_names(globals(), _LAZY)


__all__ = [
    "EXECUTION_STATUSES",
    "APIKey",
    "AdoptionReport",
    "AlreadyExistsError",
    "AlreadyFinishedError",
    "AlreadyRevokedError",
    "ConflictError",
    "Execution",
    "ExecutionStatus",
    "File",
    "FileFilter",
    "InvalidArgumentError",
    "MigrationError",
    "NotFoundError",
    "RetentionReport",
    "SchemaOutdatedError",
    "Session",
    "SkillRecord",
    "Store",
    "StoreError",
    "UnavailableError",
    "adopt_go_database",
    "available_schemes",
    "generate_key",
    "hash_key",
    "open_store",
]
