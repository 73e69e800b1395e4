"""The in-memory backend's rows: per-tenant dicts that a transaction copies on write.

A transaction works on a fork of the tables. Forking copies only the outer dict of each
table (one entry per tenant); a tenant's rows are copied the first time the fork writes
them. So opening a transaction costs O(tenants), not O(rows), and committing is a swap.
Rows are records that no one mutates once stored: a change stores a new record.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Generic, TypeVar

from skillbox_store.errors import ConflictError
from skillbox_store.records import APIKey, Execution, File, Session, SkillRecord

__all__ = ["StoredFile", "StoredSkill", "Table", "Tables"]

K = TypeVar("K")
V = TypeVar("V")

_EMPTY: Mapping[object, object] = MappingProxyType({})


class Table(Generic[K, V]):
    """Rows grouped by a partition key (the tenant), in insertion order per partition."""

    __slots__ = ("_owned", "_rows")

    def __init__(self) -> None:
        self._rows: dict[str, dict[K, V]] = {}
        # Partitions this table may change in place; None means all of them (not a fork).
        self._owned: set[str] | None = None

    def read(self, partition: str) -> Mapping[K, V]:
        """Return the partition's rows, for reading only."""
        rows = self._rows.get(partition)
        return rows if rows is not None else _EMPTY  # type: ignore[return-value]

    def newest_first(self, partition: str) -> Iterator[V]:
        """Return the partition's rows, the last inserted first."""
        return reversed(self._rows.get(partition, {}).values())

    def write(self, partition: str) -> dict[K, V]:
        """Return the partition's rows for changing, copying them first in a fork."""
        rows = self._rows.get(partition)
        if rows is None:
            rows = self._rows[partition] = {}
            if self._owned is not None:
                self._owned.add(partition)
        elif self._owned is not None and partition not in self._owned:
            rows = self._rows[partition] = dict(rows)
            self._owned.add(partition)
        return rows

    def count(self) -> int:
        """Return the number of rows in all partitions."""
        return sum(len(rows) for rows in self._rows.values())

    def fork(self) -> Table[K, V]:
        """Return a copy whose writes do not reach this table."""
        fork: Table[K, V] = Table()
        fork._rows = dict(self._rows)
        fork._owned = set()
        return fork


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A file and the id of its chain's first file."""

    file: File
    chain_id: str


@dataclass(frozen=True, slots=True)
class StoredSkill:
    """A skill record and its place in upload order."""

    record: SkillRecord
    upload_seq: int


@dataclass(slots=True)
class Tables:
    """Everything a memory store holds; tables are partitioned by tenant."""

    keys: Table[str, APIKey]
    # hash -> (tenant id, key id), partitioned by the hash itself: authentication looks
    # keys up across tenants.
    keys_by_hash: Table[str, tuple[str, str]]
    executions: Table[str, Execution]
    files: Table[str, StoredFile]
    # chain id -> {version: file id}, partitioned by tenant.
    chains: Table[str, Mapping[int, str]]
    sessions: Table[str, Session]
    session_ids: Table[str, str]  # external id -> session id
    skills: Table[tuple[str, str], StoredSkill]
    upload_seq: int

    @classmethod
    def empty(cls) -> Tables:
        """Return tables holding nothing."""
        return cls(
            keys=Table(),
            keys_by_hash=Table(),
            executions=Table(),
            files=Table(),
            chains=Table(),
            sessions=Table(),
            session_ids=Table(),
            skills=Table(),
            upload_seq=0,
        )

    def fork(self) -> Tables:
        """Return a copy for a transaction; `commit` of the copy is just using it."""
        return Tables(
            keys=self.keys.fork(),
            keys_by_hash=self.keys_by_hash.fork(),
            executions=self.executions.fork(),
            files=self.files.fork(),
            chains=self.chains.fork(),
            sessions=self.sessions.fork(),
            session_ids=self.session_ids.fork(),
            skills=self.skills.fork(),
            upload_seq=self.upload_seq,
        )

    def counts(self) -> dict[str, int]:
        """Return the number of records per table, under the SQL tables' names."""
        return {
            "api_keys": self.keys.count(),
            "executions": self.executions.count(),
            "files": self.files.count(),
            "sessions": self.sessions.count(),
            "skills": self.skills.count(),
        }

    # -- version chains: the bookkeeping that keeps `chains` in step with `files` -------

    def chain(self, tenant_id: str, chain_id: str) -> list[File]:
        """Return the chain's files, highest version first."""
        members = self.chains.read(tenant_id)[chain_id]
        files = self.files.read(tenant_id)
        return [files[members[v]].file for v in sorted(members, reverse=True)]

    def put_file(self, stored: StoredFile) -> None:
        """Store a file and record its version in its chain."""
        file = stored.file
        self.files.write(file.tenant_id)[file.id] = stored
        chains = self.chains.write(file.tenant_id)
        chains[stored.chain_id] = {**chains.get(stored.chain_id, {}), file.version: file.id}

    def replace_file(self, stored: StoredFile, new: File) -> None:
        """Store a changed file in its old place: "newest first" is creation order."""
        chains = self.chains.write(new.tenant_id)
        members = {v: i for v, i in chains[stored.chain_id].items() if i != new.id}
        chains[stored.chain_id] = members
        # Assigning to an existing key keeps the file's place in its tenant's rows.
        self.put_file(StoredFile(new, stored.chain_id))

    def drop_file(self, stored: StoredFile) -> None:
        """Remove a file and its version from its chain; a chain left empty goes too."""
        file = stored.file
        del self.files.write(file.tenant_id)[file.id]
        chains = self.chains.write(file.tenant_id)
        members = {v: i for v, i in chains[stored.chain_id].items() if i != file.id}
        if members:
            chains[stored.chain_id] = members
        else:
            del chains[stored.chain_id]

    def check_new_version(self, stored: StoredFile, version: int) -> None:
        """Refuse a version change that would break the chain's order.

        Raises:
            ConflictError: the version is used in the chain, not above the parent's, or
                not below a child's.
        """
        file = stored.file
        for member in self.chain(file.tenant_id, stored.chain_id):
            if member.id == file.id:
                continue
            if member.version == version:
                raise ConflictError(f"version {version} is already in the file's chain")
            if member.id == file.parent_id and version <= member.version:
                raise ConflictError(
                    f"version {version} must be greater than the parent's ({member.version})"
                )
            if member.parent_id == file.id and version >= member.version:
                raise ConflictError(
                    f"version {version} must be smaller than a child's ({member.version})"
                )
