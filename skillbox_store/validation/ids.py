"""Ids: the canonical UUID text every backend stores, and what a malformed id means.

A malformed id names no record: it is `NotFoundError` where a record is looked up,
matches nothing where records are listed, and `InvalidArgumentError` only where the
caller chooses the id of a new record.
"""

from __future__ import annotations

import re
import uuid
from typing import Final

from skillbox_store.errors import InvalidArgumentError, NotFoundError, not_found, shown

__all__ = ["canonical_uuid", "check_chosen_id", "lookup_id", "match_id", "optional_reference"]

# An id already in canonical form, as every id a store hands out is: checked by a regular
# expression in a tenth of the time parsing it costs (every point lookup pays it).
_CANONICAL_UUID: Final = re.compile(
    "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.ASCII
)

# A caller-chosen id: the canonical spelling in either case, and nothing else. Looser
# spellings that a lookup tolerates (`uuid.UUID` also reads "urn:" plus 32 digits, or
# hyphens anywhere) are refused, so that the id a caller records is visibly the one stored.
_CHOSEN_UUID: Final = re.compile(
    "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.ASCII | re.IGNORECASE
)


def canonical_uuid(value: object) -> str | None:
    """Return the canonical text of a UUID, or None if ``value`` is not one."""
    if type(value) is not str or len(value) != 36:
        return None
    if _CANONICAL_UUID.fullmatch(value) is not None:
        return value
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def lookup_id(field: str, value: object, *, tenant_id: str | None = None) -> str:
    """Return the canonical form of an id that names a record to read or change.

    With ``tenant_id``, ``field`` names the record (``"execution id"``, ``"key id"``)
    and a malformed id is refused with the words of a missing record
    (`skillbox_store.errors.not_found`): the two are the same to the caller.

    Raises:
        NotFoundError: ``value`` is not a well-formed UUID, so no record has it.
    """
    canonical = canonical_uuid(value)
    if canonical is None:
        if tenant_id is not None:
            noun = "API key" if field == "key id" else field.removesuffix(" id")
            raise not_found(tenant_id, f"{noun} {shown(value)}")
        raise NotFoundError(f"no record has {field} {shown(value)}")
    return canonical


def check_chosen_id(value: object) -> str | None:
    """Return the canonical (lower-case) form of the id a caller chose for a new record.

    ``None`` lets the store choose, and is returned as it is.

    Raises:
        InvalidArgumentError: ``value`` is not a UUID written as ``str(uuid.uuid4())``
            writes one (upper-case hex digits are accepted).
    """
    if value is None:
        return None
    if type(value) is not str or _CHOSEN_UUID.fullmatch(value) is None:
        raise InvalidArgumentError(
            "id must be None or a UUID written as str(uuid.uuid4()) writes it "
            f"(8-4-4-4-12 hex digits), got {shown(value)}"
        )
    return value.lower()


def match_id(value: object) -> str | None:
    """Return the canonical form of an id to filter a listing by, or None if none can match."""
    return canonical_uuid(value)


def optional_reference(tenant_id: str, noun: str, field: str, value: str | None) -> str | None:
    """Return the id a new record points at: None if absent (None or ""), else canonical.

    Raises:
        NotFoundError: ``value`` is not a UUID, so it names no ``noun`` of the tenant.
    """
    if value is None or (type(value) is str and not value):
        return None
    canonical = canonical_uuid(value)
    if canonical is None:
        raise not_found(tenant_id, f"{noun} {shown(value)} (named by {field})")
    return canonical
