"""The rules of one scalar field: text, a key's hash, integers, datetimes.

Each text field of the contract is a member of `Text`, and its rules come with the
member: a misspelt field is an `AttributeError` that mypy reports, not a string that
silently matches no rule (as ``if field == "key_hash"`` once allowed).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final, TypeGuard

from skillbox_store.errors import InvalidArgumentError, shown
from skillbox_store.limits import INDEXED_TEXT_MAX_BYTES, INT64_MAX, KEY_HASH_MIN_LENGTH

__all__ = [
    "Text",
    "check_int",
    "check_key_hash",
    "check_text",
    "check_time",
    "is_plain_name",
    "is_plain_text",
    "text_field",
]


class Text(StrEnum):
    """A text field of the contract; its value is the name messages give it."""

    TENANT_ID = "tenant_id"
    KEY_HASH = "key_hash"
    EXTERNAL_ID = "external_id"
    NAME = "name"
    VERSION = "version"
    SKILL_NAME = "skill_name"
    SKILL_VERSION = "skill_version"
    CONTENT_TYPE = "content_type"
    S3_KEY = "s3_key"
    DESCRIPTION = "description"
    LANG = "lang"
    LOGS = "logs"
    FILES_URL = "files_url"
    FILES_LIST = "files_list"
    ERROR = "error"
    INPUT = "input"
    OUTPUT = "output"


# The fields PostgreSQL keeps in a btree index, and the names and versions that go with
# them (an execution's skill_name is a skill's name): their length is bounded so that no
# index row passes PostgreSQL's limit, and the bound is the same on every backend.
_INDEXED: Final = frozenset(
    {
        Text.TENANT_ID,
        Text.KEY_HASH,
        Text.EXTERNAL_ID,
        Text.NAME,
        Text.VERSION,
        Text.SKILL_NAME,
        Text.SKILL_VERSION,
    }
)

_KEY_HASH: Final = re.compile(
    f"[0-9a-f]{{{KEY_HASH_MIN_LENGTH},{INDEXED_TEXT_MAX_BYTES}}}", re.ASCII
)


def text_field(field: Text | str) -> Text:
    """Return the `Text` member named ``field``.

    Callers outside the package may still name a field by its string; an unknown one
    is a bug of the caller and fails loudly here, instead of checking no rule.

    Raises:
        ValueError: ``field`` names no text field of the contract.
    """
    if type(field) is Text:
        return field
    try:
        return Text(field)
    except ValueError:
        raise ValueError(
            f"{field!r} is not a text field of the contract (one of "
            f"{', '.join(Text)}): a misspelt field would check none of its rules"
        ) from None


def check_text(field: Text | str, value: object, *, required: bool = True) -> str:
    """Return ``value`` if it is a string PostgreSQL can store, non-empty when required.

    The field brings its own rules: `Text.KEY_HASH` must look like `hash_key`'s digest,
    and indexed fields (tenant_id, external_id, names, versions) are at most
    `INDEXED_TEXT_MAX_BYTES` long in UTF-8.

    Raises:
        InvalidArgumentError: ``value`` breaks a rule; the message names the field.
        ValueError: ``field`` is a string that names no `Text` member.
    """
    field = text_field(field)
    if field is Text.KEY_HASH:
        return check_key_hash(value)
    if type(value) is not str:
        # Subclasses too: one with its own __eq__ or __hash__ could match another
        # tenant's rows in memory, and would read back as a plain str elsewhere.
        raise InvalidArgumentError(f"{field} must be a string (str), not {type(value).__name__}")
    if required and not value:
        raise InvalidArgumentError(f"{field} must not be empty")
    if "\x00" in value:
        raise InvalidArgumentError(f"{field} must not contain a NUL character")
    size = len(value)
    if not value.isascii():
        try:
            size = len(value.encode("utf-8"))
        except UnicodeEncodeError:
            raise InvalidArgumentError(
                f"{field} must be valid Unicode (it holds a lone surrogate)"
            ) from None
    if size > INDEXED_TEXT_MAX_BYTES and field in _INDEXED:
        raise InvalidArgumentError(
            f"{field} must be at most {INDEXED_TEXT_MAX_BYTES} bytes in UTF-8, got {size}"
        )
    return value


def check_key_hash(value: object) -> str:
    """Return ``value`` if it looks like the hex digest `hash_key` makes.

    Lowercase hex, `KEY_HASH_MIN_LENGTH` to `INDEXED_TEXT_MAX_BYTES` characters. A
    plaintext key is refused above all, so that no store ever holds a live secret; the
    message never repeats the value, which may be one.
    """
    if type(value) is not str:
        raise InvalidArgumentError(f"key_hash must be a string (str), not {type(value).__name__}")
    if _KEY_HASH.fullmatch(value) is None:
        looks_like = (
            "; this looks like a plaintext key, which must never be stored or sent as a hash"
            if value.startswith("sk-")
            else ""
        )
        raise InvalidArgumentError(
            f"key_hash must be the hex digest hash_key() returns (lowercase hex, "
            f"{KEY_HASH_MIN_LENGTH} to {INDEXED_TEXT_MAX_BYTES} characters): pass "
            f"hash_key(plaintext){looks_like}"
        )
    return value


def is_plain_text(value: object) -> TypeGuard[str]:
    """Whether ``value`` is ASCII text without NUL, which `check_text` accepts if short.

    Every write of an execution checks about ten fields; testing this first and calling
    `check_text` only for other values (which it accepts or names what is wrong with)
    halves what the checks cost.
    """
    return type(value) is str and value.isascii() and "\x00" not in value


def is_plain_name(value: object) -> TypeGuard[str]:
    """Whether ``value`` is plain text that `check_text` accepts for an indexed field."""
    return (
        type(value) is str
        and 0 < len(value) <= INDEXED_TEXT_MAX_BYTES
        and value.isascii()
        and "\x00" not in value
    )


def check_int(field: str, value: object, *, minimum: int, maximum: int | None = INT64_MAX) -> int:
    """Return ``value`` if it is an int within ``minimum`` and ``maximum`` (None: no bound).

    ``field`` only names the value in the message: the bounds are the rule.
    """
    # Exactly int: bool is an int to Python but not to any column, and a subclass's own
    # comparisons or str() could disagree with the number the backends store.
    if type(value) is not int:
        raise InvalidArgumentError(f"{field} must be an integer, not {type(value).__name__}")
    if value < minimum:
        raise InvalidArgumentError(f"{field} must be at least {minimum}, got {shown(value)}")
    if maximum is not None and value > maximum:
        raise InvalidArgumentError(f"{field} must be at most {maximum}, got {shown(value)}")
    return value


def check_time(field: str, value: object) -> datetime:
    """Return ``value`` as an aware UTC datetime, refusing what cannot be one.

    ``field`` only names the value in the message: every datetime has the same rules.

    Raises:
        InvalidArgumentError: not a datetime, naive, a tzinfo that fails or is a day or
            more off UTC, or outside years 1 to 9999 once moved to UTC.
    """
    if not isinstance(value, datetime):
        raise InvalidArgumentError(f"{field} must be a datetime, not {type(value).__name__}")
    if type(value) is datetime and value.tzinfo is UTC:
        return value
    if value.tzinfo is None:
        raise InvalidArgumentError(f"{field} must be timezone-aware, got a naive datetime")
    try:
        offset = value.utcoffset()
    except Exception as exc:
        # The tzinfo is the caller's code: whatever it raises (a ValueError for an offset
        # of a day or more, anything from its own utcoffset) is a bad argument.
        raise InvalidArgumentError(
            f"{field} has a tzinfo whose utcoffset() fails: {type(exc).__name__}"
        ) from exc
    if offset is None:
        raise InvalidArgumentError(f"{field} must be timezone-aware, got a naive datetime")
    # Built field by field, so a datetime subclass comes back as a plain datetime.
    naive = datetime(
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
    )
    try:
        return (naive - offset).replace(tzinfo=UTC)
    except OverflowError:
        raise InvalidArgumentError(
            f"{field} falls outside years 1 to 9999 when moved to UTC"
        ) from None
