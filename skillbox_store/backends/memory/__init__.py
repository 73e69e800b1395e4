"""The ``memory://`` backend: pure Python, in process, nothing on disk.

The fast fake for tests of code that uses a store, and the behaviour the SQL backends
are held to.
"""

from __future__ import annotations

from typing import Any

from skillbox_store.backends.memory.store import MemoryStore
from skillbox_store.errors import InvalidArgumentError

__all__ = ["MemoryStore", "open_memory_store"]


async def open_memory_store(
    url: str = "memory://", *, migrate: bool = True, **options: Any
) -> MemoryStore:
    """Return a new empty `MemoryStore`; each call is a separate store.

    ``migrate`` is accepted for symmetry and ignored: the store has the current schema.

    Raises:
        InvalidArgumentError: the URL has more than ``memory://``, or an option is given.
    """
    if url.rstrip("/") != "memory:":
        raise InvalidArgumentError(f"a memory store URL is just 'memory://', got {url!r}")
    if options:
        raise InvalidArgumentError(
            f"the memory backend takes no options, got {', '.join(sorted(options))}"
        )
    return MemoryStore()
