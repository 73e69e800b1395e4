"""The in-memory backend's rows: per-tenant partitions that a transaction copies on write.

A transaction works on a fork of the tables. Forking copies only the outer dict of each
table (one entry per tenant); a tenant's rows are copied the first time the fork writes
them. So opening a transaction costs O(tenants), not O(rows), and committing is a swap.
Rows are records that no one mutates once stored: a change stores a new record.

Listings are looked up, not scanned. A table made with ``ordered=True`` keeps each
partition as `Rows`: besides the rows, their insertion order in blocks (`Ordering`), so
a page starting after any row is found by bisection, and secondary orderings per value
of the table's ``indexes`` (a file's session, its execution), so a filtered listing
touches only the rows it returns. `Rows` maintains them in ``__setitem__`` and
``__delitem__``, so every way of changing a partition keeps them right.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Hashable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Generic, TypeVar

from skillbox_store.errors import version_misplaced
from skillbox_store.records import APIKey, Execution, File, Session, SkillRecord

__all__ = ["Ordering", "Rows", "StoredFile", "StoredSkill", "Table", "Tables"]

K = TypeVar("K")
V = TypeVar("V")

_EMPTY: Mapping[object, object] = MappingProxyType({})

# Keys per block of an `Ordering`: removing a key moves at most this many pointers, and
# a seek bisects the blocks, then one block.
_BLOCK: Final = 512

Index = Callable[[V], Hashable | None]
"""What a secondary ordering groups rows by (None: the row is in no group)."""


class Ordering(Generic[K]):
    """Keys in the order of their sequence numbers, kept in blocks.

    Adding at the end, removing any key and starting an iteration before any sequence
    number cost O(log n + block), never a scan of the keys.
    """

    __slots__ = ("_blocks", "_firsts", "_size")

    def __init__(self) -> None:
        """Hold no keys."""
        # Each block: sequence numbers ascending and the keys that carry them.
        self._blocks: list[tuple[list[int], list[K]]] = []
        self._firsts: list[int] = []  # the first sequence number of each block
        self._size = 0

    def __len__(self) -> int:
        """Return how many keys are held."""
        return self._size

    def add(self, key: K, seq: int) -> None:
        """Hold ``key`` at ``seq``; appending (the usual case) costs O(1)."""
        self._size += 1
        if self._blocks and seq > self._blocks[-1][0][-1]:
            seqs, keys = self._blocks[-1]
            if len(seqs) < _BLOCK:
                seqs.append(seq)
                keys.append(key)
                return
        if not self._blocks or seq > self._blocks[-1][0][-1]:
            self._blocks.append(([seq], [key]))
            self._firsts.append(seq)
            return
        block = max(bisect_right(self._firsts, seq) - 1, 0)
        seqs, keys = self._blocks[block]
        at = bisect_left(seqs, seq)
        seqs.insert(at, seq)
        keys.insert(at, key)
        self._firsts[block] = seqs[0]

    def remove(self, seq: int) -> None:
        """Drop the key held at ``seq``."""
        block = bisect_right(self._firsts, seq) - 1
        seqs, keys = self._blocks[block]
        at = bisect_left(seqs, seq)
        del seqs[at], keys[at]
        self._size -= 1
        if not seqs:
            del self._blocks[block], self._firsts[block]
        elif at == 0:
            self._firsts[block] = seqs[0]

    def before(self, seq: int | None = None) -> Iterator[K]:
        """Yield the keys below ``seq`` (all of them for None), the highest first."""
        blocks = self._blocks
        stop: int | None = None
        block = len(blocks) - 1
        if seq is not None:
            block = bisect_left(self._firsts, seq) - 1
            if block >= 0:
                stop = bisect_left(blocks[block][0], seq)
        while block >= 0:
            yield from reversed(blocks[block][1][:stop])
            block -= 1
            stop = None

    def copy(self) -> Ordering[K]:
        """Return an independent copy."""
        copied: Ordering[K] = Ordering()
        copied._blocks = [(list(seqs), list(keys)) for seqs, keys in self._blocks]
        copied._firsts = list(self._firsts)
        copied._size = self._size
        return copied


class Rows(MutableMapping[K, V]):
    """One partition's rows, with their insertion order and secondary orderings.

    Replacing a row keeps its place; a row removed and added again goes last.
    """

    __slots__ = ("_by", "_indexes", "_next", "_order", "_rows", "_seq")

    def __init__(self, indexes: Mapping[str, Index[V]]) -> None:
        """Hold no rows; ``indexes`` name what the secondary orderings group rows by."""
        self._rows: dict[K, V] = {}
        self._seq: dict[K, int] = {}
        self._next = 0
        self._order: Ordering[K] = Ordering()
        self._indexes = indexes
        self._by: dict[str, dict[Hashable, Ordering[K]]] = {name: {} for name in indexes}

    # -- the mapping (reads go straight to the dict: they are the hot path) -------------

    def __getitem__(self, key: K) -> V:
        """Return the row stored under ``key``."""
        return self._rows[key]

    def get(self, key: K, default: V | None = None) -> V | None:  # type: ignore[override]
        """Return the row stored under ``key``, or ``default``."""
        return self._rows.get(key, default)

    def __contains__(self, key: object) -> bool:
        """Tell whether a row is stored under ``key``."""
        return key in self._rows

    def __iter__(self) -> Iterator[K]:
        """Iterate over the keys in insertion order."""
        return iter(self._rows)

    def __len__(self) -> int:
        """Return the number of rows."""
        return len(self._rows)

    def __setitem__(self, key: K, row: V) -> None:
        """Store ``row``: a new key goes last, an existing one keeps its place."""
        old = self._rows.get(key)
        seq = self._seq.get(key)
        self._rows[key] = row
        if seq is None:
            seq = self._seq[key] = self._next
            self._next += 1
            self._order.add(key, seq)
            for name, index in self._indexes.items():
                self._group(name, index(row), key, seq)
            return
        for name, index in self._indexes.items():
            was, now = index(old), index(row)  # type: ignore[arg-type]
            if was != now:
                self._ungroup(name, was, seq)
                self._group(name, now, key, seq)

    def __delitem__(self, key: K) -> None:
        """Remove the row stored under ``key``."""
        row = self._rows.pop(key)
        seq = self._seq.pop(key)
        self._order.remove(seq)
        for name, index in self._indexes.items():
            self._ungroup(name, index(row), seq)

    def clear(self) -> None:
        """Remove every row at once."""
        self._rows.clear()
        self._seq.clear()
        self._order = Ordering()
        self._by = {name: {} for name in self._indexes}

    def _group(self, name: str, value: Hashable | None, key: K, seq: int) -> None:
        if value is None:
            # A row outside every group (a file of no session) is listed by none.
            return
        groups = self._by[name]
        group = groups.get(value)
        if group is None:
            group = groups[value] = Ordering()
        group.add(key, seq)

    def _ungroup(self, name: str, value: Hashable | None, seq: int) -> None:
        if value is None:
            return
        groups = self._by[name]
        group = groups[value]
        group.remove(seq)
        if not group:
            del groups[value]

    # -- listings ------------------------------------------------------------------------

    def newest_first(
        self, after: K | None = None, *, index: str | None = None, value: Hashable = None
    ) -> Iterator[V]:
        """Yield the rows, the last inserted first, from just below ``after`` if given.

        With ``index``, only the rows whose ``index`` value is ``value``, from their own
        ordering. The caller checks that ``after`` is a row of this listing.
        """
        order = self._order if index is None else self._by[index].get(value)
        if order is None:
            return iter(())
        rows = self._rows
        seq = None if after is None else self._seq[after]
        return (rows[key] for key in order.before(seq))

    def group_size(self, index: str, value: Hashable) -> int:
        """Return how many rows have ``value`` for ``index``."""
        group = self._by[index].get(value)
        return 0 if group is None else len(group)

    def copy(self) -> Rows[K, V]:
        """Return an independent copy, orderings included."""
        copied: Rows[K, V] = Rows(self._indexes)
        copied._rows = dict(self._rows)
        copied._seq = dict(self._seq)
        copied._next = self._next
        copied._order = self._order.copy()
        copied._by = {
            name: {value: group.copy() for value, group in groups.items()}
            for name, groups in self._by.items()
        }
        return copied


class Table(Generic[K, V]):
    """Rows grouped by a partition key (the tenant), in insertion order per partition.

    ``ordered=True`` keeps each partition as `Rows` (seekable order, and secondary
    orderings by ``indexes``); otherwise a plain dict.
    """

    __slots__ = ("_indexes", "_ordered", "_owned", "_rows")

    def __init__(
        self, *, ordered: bool = False, indexes: Mapping[str, Index[V]] | None = None
    ) -> None:
        """Hold no rows."""
        self._rows: dict[str, MutableMapping[K, V]] = {}
        # Partitions this table may change in place; None means all of them (not a fork).
        self._owned: set[str] | None = None
        self._ordered = ordered or bool(indexes)
        self._indexes: Mapping[str, Index[V]] = indexes or {}

    def read(self, partition: str) -> Mapping[K, V]:
        """Return the partition's rows, for reading only."""
        rows = self._rows.get(partition)
        return rows if rows is not None else _EMPTY  # type: ignore[return-value]

    def rows(self, partition: str) -> Rows[K, V] | None:
        """Return an ordered table's partition, for its listings; None when empty."""
        rows = self._rows.get(partition)
        return rows if isinstance(rows, Rows) else None

    def newest_first(self, partition: str) -> Iterator[V]:
        """Return the partition's rows, the last inserted first."""
        rows = self._rows.get(partition)
        if rows is None:
            return iter(())
        if isinstance(rows, Rows):
            return rows.newest_first()
        return reversed(rows.values())  # type: ignore[call-overload, no-any-return]

    def write(self, partition: str) -> MutableMapping[K, V]:
        """Return the partition's rows for changing, copying them first in a fork."""
        rows = self._rows.get(partition)
        if rows is None:
            rows = self._rows[partition] = Rows(self._indexes) if self._ordered else {}
            if self._owned is not None:
                self._owned.add(partition)
        elif self._owned is not None and partition not in self._owned:
            rows = self._rows[partition] = rows.copy()  # type: ignore[attr-defined]
            self._owned.add(partition)
        return rows

    def count(self) -> int:
        """Return the number of rows in all partitions."""
        return sum(len(rows) for rows in self._rows.values())

    def partitions(self) -> list[str]:
        """Return the partitions that hold rows (for bulk reads across tenants)."""
        return [partition for partition, rows in self._rows.items() if rows]

    def fork(self) -> Table[K, V]:
        """Return a copy whose writes do not reach this table."""
        fork: Table[K, V] = Table(ordered=self._ordered, indexes=self._indexes)
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


# What the filtered listings look files up by, and the versions of one skill name.
_FILE_INDEXES: Final[Mapping[str, Index[StoredFile]]] = MappingProxyType(
    {
        "session_id": lambda stored: stored.file.session_id,
        "execution_id": lambda stored: stored.file.execution_id,
    }
)
_SKILL_INDEXES: Final[Mapping[str, Index[StoredSkill]]] = MappingProxyType(
    {"name": lambda stored: stored.record.name}
)


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
            executions=Table(ordered=True),
            files=Table(indexes=_FILE_INDEXES),
            chains=Table(),
            sessions=Table(),
            session_ids=Table(),
            skills=Table(indexes=_SKILL_INDEXES),
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
            if (
                member.version == version
                or (member.id == file.parent_id and version <= member.version)
                or (member.parent_id == file.id and version >= member.version)
            ):
                raise version_misplaced(version)
