"""The memory backend's listings: looked up in the tables' orderings, never scanned.

Each function reads the tables without an ``await``, so it sees one state of the store.
A page with ``after`` starts by bisection just below that row (`Rows.newest_first`), so
it costs the same at any depth; ``offset`` walks past the rows it skips. Filtered file
listings walk only the session's or execution's own files. Records come back as stored:
the store copies them before handing them out.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TypeVar

from skillbox_store.backends.memory.tables import Rows, StoredFile, StoredSkill, Tables
from skillbox_store.errors import not_in_listing
from skillbox_store.records import Execution, File
from skillbox_store.validation import ListedFiles

__all__ = ["execution_page", "file_page", "latest_skill", "session_files"]

R = TypeVar("R")


def _page(rows: Iterable[R], limit: int, offset: int) -> list[R]:
    # islice refuses indices above sys.maxsize (ValueError), and an accepted offset
    # (up to 2**63 - 1) plus a limit passes it. No table holds sys.maxsize rows, so
    # cutting both ends there changes no page: one that starts past the end is [].
    return list(islice(rows, min(offset, sys.maxsize), min(offset + limit, sys.maxsize)))


def execution_page(
    tables: Tables, tenant_id: str, limit: int, offset: int, after: str | None
) -> list[Execution]:
    """Return a page of the tenant's executions, newest first, following ``after`` if set.

    Raises:
        NotFoundError: ``after`` names no execution of the tenant.
    """
    rows = tables.executions.rows(tenant_id)
    if after is not None and (rows is None or after not in rows):
        raise not_in_listing(tenant_id, "execution", after)
    if rows is None:
        return []
    return _page(rows.newest_first(after), limit, offset)


def _files(rows: Rows[str, StoredFile], wanted: ListedFiles) -> Iterator[StoredFile]:
    """The files the filter keeps, newest first, from the smallest ordering that has them."""
    session_id, execution_id, after = wanted.session_id, wanted.execution_id, wanted.after
    if session_id is None and execution_id is None:
        return rows.newest_first(after)
    if session_id is not None and execution_id is not None:
        # Walk the smaller of the two groups and keep what also matches the other.
        if rows.group_size("session_id", session_id) <= rows.group_size(
            "execution_id", execution_id
        ):
            group = rows.newest_first(after, index="session_id", value=session_id)
            return (s for s in group if s.file.execution_id == execution_id)
        group = rows.newest_first(after, index="execution_id", value=execution_id)
        return (s for s in group if s.file.session_id == session_id)
    if session_id is not None:
        return rows.newest_first(after, index="session_id", value=session_id)
    return rows.newest_first(after, index="execution_id", value=execution_id)


def _keeps(wanted: ListedFiles, file: File) -> bool:
    return (wanted.session_id is None or file.session_id == wanted.session_id) and (
        wanted.execution_id is None or file.execution_id == wanted.execution_id
    )


def file_page(tables: Tables, wanted: ListedFiles) -> list[File]:
    """Return the page of files ``wanted`` describes, newest first.

    Raises:
        NotFoundError: ``wanted.after`` names no file of the tenant that the filter keeps.
    """
    rows = tables.files.rows(wanted.tenant_id)
    if wanted.after is not None:
        stored = None if rows is None else rows.get(wanted.after)
        if stored is None or not _keeps(wanted, stored.file):
            raise not_in_listing(wanted.tenant_id, "file", wanted.after)
    if rows is None or wanted.matches_nothing:
        return []
    return [stored.file for stored in _page(_files(rows, wanted), wanted.limit, wanted.offset)]


def session_files(tables: Tables, tenant_id: str, session_id: str) -> list[File]:
    """Return every file of the session, newest first."""
    rows = tables.files.rows(tenant_id)
    if rows is None:
        return []
    return [s.file for s in rows.newest_first(index="session_id", value=session_id)]


def latest_skill(tables: Tables, tenant_id: str, name: str) -> StoredSkill | None:
    """Return the most recently uploaded version of the skill ``name``, if any."""
    rows = tables.skills.rows(tenant_id)
    if rows is None:
        return None
    versions = rows.newest_first(index="name", value=name)
    return max(versions, key=lambda stored: stored.upload_seq, default=None)
