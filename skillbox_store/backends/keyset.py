"""What the two SQL backends share about a keyset page's rows.

Both dialects answer a page that follows a record (``after``) with one statement of the
same shape (``…_AFTER`` in each ``statements.py``): the record ``after`` names, joined
to the rows of the listing just below it. Reading that answer is the same on both, so
it is written once, here; a backend still never imports another backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from skillbox_store.errors import not_in_listing

__all__ = ["keyset_page"]

R = TypeVar("R", bound=Sequence[object])


def keyset_page(found: list[R], tenant_id: str, record: str, after: str) -> list[R]:
    """Return the rows of a ``…_AFTER`` statement's page.

    Raises:
        NotFoundError: no row at all: ``after`` is not a ``record`` of the listing.
    """
    if not found:
        raise not_in_listing(tenant_id, record, after)
    # One row of NULLs: ``after`` is the listing's oldest record, the page is empty.
    return [] if found[0][0] is None else found
