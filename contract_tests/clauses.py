"""Naming the clause of `docs/contract.md` that a test proves.

Every targeted test of the suite carries ``@clause("files.version.inherits", ...)``:
the ids of the clauses it proves. The decorator marks the test (``pytest -m`` cannot
select by argument, but ``-k`` and the drift test in ``test_clause_map.py`` read the
mark) and makes any failure start with the clause ids, so a backend author reads which
promise broke before reading a traceback.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable
from typing import Any, Final, TypeVar

import pytest

__all__ = ["CLAUSE_ID", "BrokenClause", "clause"]

F = TypeVar("F", bound=Callable[..., Any])

CLAUSE_ID: Final = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
"""What a clause id looks like: dotted lowercase words, e.g. ``keys.revoke.once``."""


class BrokenClause(AssertionError):
    """A test of one or more clauses failed; the message starts with their ids."""


def _named(ids: tuple[str, ...], exc: BaseException) -> BrokenClause:
    return BrokenClause(f"broken clause {', '.join(ids)}: {type(exc).__name__}: {exc}")


def clause(*ids: str) -> Callable[[F], F]:
    """Mark a test as the proof of the clauses ``ids``; its failures name them."""
    for clause_id in ids:
        if not CLAUSE_ID.match(clause_id):
            raise ValueError(f"not a clause id: {clause_id!r}")
    if not ids:
        raise ValueError("clause() needs at least one id")

    def decorate(test: F) -> F:
        if inspect.iscoroutinefunction(test):
            raise TypeError("clause tests are sync (drive the store through a Harness)")

        @functools.wraps(test)
        def named(*args: Any, **kwargs: Any) -> Any:
            try:
                return test(*args, **kwargs)
            except BrokenClause:
                raise
            except Exception as exc:
                raise _named(ids, exc) from exc

        marked = pytest.mark.clause(*ids)(named)
        return marked  # type: ignore[no-any-return]

    return decorate
