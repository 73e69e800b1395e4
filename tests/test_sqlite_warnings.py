"""Warnings from the project are errors, and the SQLite statements bind as Python 3.14 wants.

Numbered placeholders (``?1``) bound with a sequence warned 954 times
on Python 3.12 (an error from 3.14) and nothing failed. The ``filterwarnings`` of
pyproject.toml now make a warning attributed to a module of the project an error, and
`.ci/run` runs the SQLite tests on 3.12 and 3.13 too.
"""

from __future__ import annotations

import builtins
import re
import sqlite3
import warnings
from collections.abc import Iterator

import pytest

from skillbox_store.backends.sqlite import statements


@pytest.fixture
def project_filters(pytestconfig: pytest.Config) -> Iterator[None]:
    """The ``filterwarnings`` of pyproject.toml alone, whatever ``-W`` options the run has.

    Applied as pytest applies them: in order, each taking precedence over the earlier.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        for entry in pytestconfig.getini("filterwarnings"):
            action, message, category, module = [*entry.split(":"), "", "", ""][:4]
            found = getattr(builtins, category, None) if category else Warning
            if isinstance(found, type) and issubclass(found, Warning):
                warnings.filterwarnings(
                    action,
                    message=message,
                    category=found,
                    module=module,
                )
        yield


@pytest.mark.usefixtures("project_filters")
@pytest.mark.parametrize(
    "module",
    [
        "skillbox_store",
        "skillbox_store.backends.sqlite.units",
        "contract_tests.harness",
        "skillbox_store_contract_tests.harness",
        "test_sqlite_store",
        "conftest",
        "broken_backends",
    ],
)
def test_a_warning_from_the_project_is_an_error(module: str) -> None:
    with pytest.raises(DeprecationWarning, match="numbered"):
        warnings.warn_explicit("numbered placeholders", DeprecationWarning, "x.py", 1, module)


@pytest.mark.usefixtures("project_filters")
@pytest.mark.parametrize(
    "module", ["aiosqlite.core", "pydantic.main", "skillbox_storefront", "contract_testsuite"]
)
def test_a_library_warning_about_itself_is_not_an_error(module: str) -> None:
    with warnings.catch_warnings(record=True) as caught:
        # Keeps the project's filters (catch_warnings copies them); only records.
        warnings.warn_explicit("its own business", DeprecationWarning, "y.py", 1, module)
    assert [str(w.message) for w in caught] == ["its own business"]


def test_a_driver_warning_about_our_call_is_an_error_where_the_driver_warns() -> None:
    """sqlite3 warns at its caller: on 3.12 and 3.13 a deprecated binding made by the
    project would be an error (3.11 has no such warning, 3.14 raises outright)."""
    conn = sqlite3.connect(":memory:")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            conn.execute("SELECT ?1", (1,))
    finally:
        conn.close()
    # Attributed to this module, which the filters make an error outside catch_warnings.
    assert all(w.filename == __file__ for w in caught)


def test_no_statement_uses_numbered_placeholders() -> None:
    """``?1`` bound from a sequence is deprecated on 3.12; named ones take a dict."""
    numbered = {
        name: text
        for name, text in vars(statements).items()
        if name.isupper() and isinstance(text, str) and re.search(r"\?\d", text)
    }
    assert numbered == {}
