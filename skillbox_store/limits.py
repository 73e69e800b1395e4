"""The numbers the contract fixes: page sizes, caps and input limits.

Kept apart from `skillbox_store.validation` (which needs the record classes, and with
them SQLModel) so that the command line can show these numbers in its help without
paying for that import.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "EXECUTIONS_PAGE_DEFAULT",
    "EXECUTIONS_PAGE_MAX",
    "FILES_PAGE_DEFAULT",
    "FILES_PAGE_MAX",
    "INDEXED_TEXT_MAX_BYTES",
    "INT32_MAX",
    "INT64_MAX",
    "JSON_INT_MAX",
    "JSON_INT_MIN",
    "JSON_MAX_DEPTH",
    "JSON_MAX_VALUES",
    "KEY_HASH_MIN_LENGTH",
]

EXECUTIONS_PAGE_DEFAULT: Final = 20
EXECUTIONS_PAGE_MAX: Final = 100
FILES_PAGE_DEFAULT: Final = 50
FILES_PAGE_MAX: Final = 200

# The widest integers the PostgreSQL columns hold (bigint, integer); every backend
# refuses what one of them cannot store.
INT64_MAX: Final = 2**63 - 1
INT32_MAX: Final = 2**31 - 1

# How deep `input` and `output` may nest lists and objects. Reading a value back
# (json.loads, psycopg's jsonb loader, the memory backend's copy, pydantic's dump) recurses
# once or twice a level; 64 levels leave ~850 of Python's 1,000 frames to the caller,
# while pydantic's JSON dump alone fails past 254 levels and json.loads at ~900 less the
# caller's depth.
JSON_MAX_DEPTH: Final = 64

# How many values (scalars, lists and objects, counted as written out) `input` and
# `output` may hold. A value built in Python can share one list many times over
# (`v = [v, v]`, sixty times): tiny in memory, 2**60 values once serialized, so every
# backend would hang writing it. Counting the values as they would be written bounds
# both the check and the write.
JSON_MAX_VALUES: Final = 1_000_000

# The integers a JSON value may hold: what a 64-bit reader, signed or unsigned, can take.
# Larger ones stored fine but read back only as far as Python's 4,300-digit limit for
# int/str conversions, and no other language's JSON decoder reads them as integers.
JSON_INT_MIN: Final = -(2**63)
JSON_INT_MAX: Final = 2**64 - 1

# The longest text, in UTF-8 bytes, of a field PostgreSQL keeps in a btree index
# (tenant_id, key_hash, external_id, names and versions). A btree row holds at most
# 2,704 bytes, and text is compressed before that test only when it compresses: the widest
# index, skills (tenant_id, name, version), takes 8 + 3 × (4 + 512) + padding ≈ 1,560
# bytes at this limit, leaving room for indexes of up to five such fields.
INDEXED_TEXT_MAX_BYTES: Final = 512

# The shortest key hash: the 64 hex digits of `hash_key`'s SHA-256. Longer digests (a
# future SHA-512) stay valid; a plaintext "sk-" key never is.
KEY_HASH_MIN_LENGTH: Final = 64
