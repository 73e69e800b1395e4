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
    "INT32_MAX",
    "INT64_MAX",
]

EXECUTIONS_PAGE_DEFAULT: Final = 20
EXECUTIONS_PAGE_MAX: Final = 100
FILES_PAGE_DEFAULT: Final = 50
FILES_PAGE_MAX: Final = 200

# The widest integers the PostgreSQL columns hold (bigint, integer); every backend
# refuses what one of them cannot store.
INT64_MAX: Final = 2**63 - 1
INT32_MAX: Final = 2**31 - 1
