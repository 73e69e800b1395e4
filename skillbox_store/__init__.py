"""skillbox-store: the storage layer of Skillbox.

One async contract, `Store`, and backends chosen by URL through `open_store`::

    async with open_store("sqlite:///skillbox.db") as store:
        key = await store.create_key("tenant-a", "ci", hash_key(plaintext))
"""

from __future__ import annotations

from skillbox_store.errors import (
    AlreadyExistsError,
    AlreadyFinishedError,
    AlreadyRevokedError,
    ConflictError,
    InvalidArgumentError,
    MigrationError,
    NotFoundError,
    StoreError,
    UnavailableError,
)
from skillbox_store.keys import generate_key, hash_key
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

__all__ = [
    "EXECUTION_STATUSES",
    "APIKey",
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
    "Session",
    "SkillRecord",
    "Store",
    "StoreError",
    "UnavailableError",
    "available_schemes",
    "generate_key",
    "hash_key",
    "open_store",
]
