"""Naming the clause of the contract (docs/contract.md) that a test proves.

Every targeted test of the suite carries ``@clause("files.version.inherits", ...)``:
the ids of the clauses it proves. The decorator marks the test (``pytest -m`` cannot
select by argument, but ``-k`` and the drift test in ``test_clause_map.py`` read the
mark) and makes any failure start with the clause ids, followed by the text of each
clause, so a backend author reads which promise broke before reading a traceback.

The document is ``docs/contract.md`` in a checkout; the wheel installs a copy next to
the suite, as ``contract.md`` (`contract_document`).
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, TypeVar

import pytest

__all__ = [
    "CLAUSE_ID",
    "CLAUSE_LINE",
    "BrokenClause",
    "clause",
    "clause_texts",
    "contract_document",
]

F = TypeVar("F", bound=Callable[..., Any])

CLAUSE_ID: Final = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
"""What a clause id looks like: dotted lowercase words, e.g. ``keys.revoke.once``."""

CLAUSE_LINE: Final = re.compile(r"^- \*\*`(?P<id>[^`]+)`\*\*(?P<text>.*)$")
"""A clause line of the document: ``- **`area.method.promise`** text``."""

_SUITE: Final = Path(__file__).resolve().parent


def contract_document() -> Path:
    """Return the path of the contract's text: installed with the suite, or the checkout's.

    The path may not exist (a suite copied without it); callers say so.
    """
    installed = _SUITE / "contract.md"
    return installed if installed.is_file() else _SUITE.parent / "docs" / "contract.md"


def clause_texts(text: str) -> dict[str, str]:
    """Return each clause's text, by id, from the document's ``text``; lines joined.

    A clause is its line and the indented lines under it; the format example in the
    header (before the first ``## `` section) is not a clause.
    """
    texts: dict[str, list[str]] = {}
    current: list[str] | None = None
    in_sections = False
    for line in text.splitlines():
        if line.startswith("## "):
            in_sections, current = True, None
            continue
        match = CLAUSE_LINE.match(line) if in_sections else None
        if match is not None:
            current = texts.setdefault(match["id"], [])
            current.append(match["text"].strip())
        elif current is not None and line.startswith("  ") and line.strip():
            if line.lstrip().startswith("- "):
                current = None  # an indented list item is not the clause's text
            else:
                current.append(line.strip())
        else:
            current = None
    return {clause_id: " ".join(lines) for clause_id, lines in texts.items()}


@functools.cache
def _texts() -> dict[str, str]:
    try:
        return clause_texts(contract_document().read_text("utf-8"))
    except OSError:
        return {}


class BrokenClause(AssertionError):
    """A test of one or more clauses failed; the message starts with their ids."""


def _named(ids: tuple[str, ...], exc: BaseException) -> BrokenClause:
    lines = [f"broken clause {', '.join(ids)}: {type(exc).__name__}: {exc}"]
    texts = _texts()
    known = [clause_id for clause_id in ids if clause_id in texts]
    if known:
        lines.append(f"the contract ({contract_document()}) says:")
        lines += [f"  {clause_id}: {texts[clause_id]}" for clause_id in known]
    return BrokenClause("\n".join(lines))


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
                broken = _named(ids, exc).with_traceback(exc.__traceback__)
            # Raised with the failure's own traceback and no chain: pytest then prints
            # the failure once, under the clause's name, instead of the original error
            # and then the BrokenClause that repeats it.
            raise broken from None

        marked = pytest.mark.clause(*ids)(named)
        return marked  # type: ignore[no-any-return]

    return decorate
