"""Paging: page sizes, offsets, keyset cursors, and the checked `FileFilter`.

`ListedFiles` also carries the order of a listing statement's parameters, so that the
two SQL backends bind a filter the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from skillbox_store.errors import InvalidArgumentError, not_in_listing
from skillbox_store.limits import FILES_PAGE_DEFAULT, FILES_PAGE_MAX
from skillbox_store.records import FileFilter
from skillbox_store.validation.fields import Text, check_int, check_text
from skillbox_store.validation.ids import canonical_uuid

__all__ = [
    "FileListing",
    "ListedFiles",
    "check_after",
    "check_file_filter",
    "check_limit",
    "check_offset",
]


def check_limit(value: object, *, maximum: int) -> int:
    """Return a page size: at least 1, and ``maximum`` when larger."""
    return min(check_int("limit", value, minimum=1, maximum=None), maximum)


def check_offset(value: object) -> int:
    """Return a page offset: at least 0, at most what a 64-bit OFFSET holds."""
    return check_int("offset", value, minimum=0)


FileListing = Literal["tenant", "session", "execution", "session_and_execution"]
"""The filters `list_files` has a statement for; SQL backends keep one per value."""


@dataclass(frozen=True, slots=True)
class ListedFiles:
    """A checked `FileFilter`: which files to list, or `matches_nothing`."""

    tenant_id: str
    session_id: str | None
    execution_id: str | None
    limit: int
    offset: int
    matches_nothing: bool
    # Keyset paging: the canonical id of the file the page follows, or None.
    after: str | None = None

    @property
    def narrowed_by(self) -> FileListing:
        """Which of the four listing statements serves this filter."""
        if self.session_id is not None:
            return "session_and_execution" if self.execution_id is not None else "session"
        return "execution" if self.execution_id is not None else "tenant"

    @property
    def params(self) -> tuple[str | int, ...]:
        """The statement's parameters: tenant, the filter's ids in that order, limit, offset."""
        ids = tuple(i for i in (self.session_id, self.execution_id) if i is not None)
        return (self.tenant_id, *ids, self.limit, self.offset)

    @property
    def named_params(self) -> dict[str, str | int | None]:
        """The keyset statements' parameters, by name (their ``after`` among them)."""
        return {
            "tenant_id": self.tenant_id,
            "session_id": self.session_id,
            "execution_id": self.execution_id,
            "limit": self.limit,
            "after": self.after,
        }


def check_after(after: object, offset: int, *, tenant_id: str, record: str) -> str | None:
    """Return the canonical id of the record a keyset page follows; None for the first page.

    ``None`` and ``""`` mean no cursor; ``record`` names what the listing lists.

    Raises:
        InvalidArgumentError: ``after`` is not a string, or comes with a non-zero ``offset``.
        NotFoundError: ``after`` is not a UUID, so it names no record.
    """
    if after is None or (type(after) is str and not after):
        return None
    if type(after) is not str:
        raise InvalidArgumentError(f"after must be a string (str), not {type(after).__name__}")
    if offset:
        raise InvalidArgumentError(
            f"after and offset {offset} exclude each other: a page follows a record or "
            "skips records, not both"
        )
    canonical = canonical_uuid(after)
    if canonical is None:
        raise not_in_listing(tenant_id, record, after)
    return canonical


def check_file_filter(filter: FileFilter) -> ListedFiles:
    """Return the filter with defaults applied; an id that is not a UUID matches nothing.

    Raises:
        NotFoundError: ``after`` is not a UUID, or the filter matches nothing, so no file
            of the listing has that id.
    """
    if not isinstance(filter, FileFilter):
        raise InvalidArgumentError("filter must be a FileFilter")
    tenant_id = check_text(Text.TENANT_ID, filter.tenant_id)
    limit = check_limit(
        FILES_PAGE_DEFAULT if filter.limit is None else filter.limit, maximum=FILES_PAGE_MAX
    )
    offset = check_offset(filter.offset)
    matches_nothing = False
    ids: list[str | None] = []
    for raw in (filter.session_id, filter.execution_id):
        if raw is None or (type(raw) is str and not raw):
            ids.append(None)
            continue
        canonical = canonical_uuid(raw)
        if canonical is None:
            if type(raw) is not str:
                raise InvalidArgumentError("file filter ids must be strings")
            matches_nothing = True
        ids.append(canonical)
    after = check_after(filter.after, offset, tenant_id=tenant_id, record="file")
    if after is not None and matches_nothing:
        # The filter names a session or execution that cannot exist: no file follows.
        raise not_in_listing(tenant_id, "file", after)
    return ListedFiles(tenant_id, ids[0], ids[1], limit, offset, matches_nothing, after)
