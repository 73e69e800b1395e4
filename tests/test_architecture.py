"""docs/architecture.md stays true: its table of methods and its homes of tests.

The table must list every `Store` method, in the Protocol's order, with the argument
check each backend calls (and every backend's method does call it) and, per backend,
functions that exist where the table says. The homes: no file of ``tests/faults/``
runs the contract suite's per-target store (a test that does is a contract test, and
belongs in ``contract_tests/``).
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path
from typing import Final

from skillbox_store import validation as check
from skillbox_store.store import Store

ROOT: Final = Path(__file__).resolve().parent.parent
DOCUMENT: Final = ROOT / "docs" / "architecture.md"
BACKENDS: Final = ROOT / "skillbox_store" / "backends"
COLUMNS: Final = ("memory", "sqlite", "postgres")
# The Protocol's methods that take no argument to check.
UNCHECKED: Final = {"ping", "schema_version", "transaction", "close"}


def _protocol_methods() -> list[str]:
    """The `Store` Protocol's public methods, in the order store.py defines them."""
    public = {n for n, _ in inspect.getmembers(Store, inspect.isfunction) if not n.startswith("_")}
    source = inspect.getsource(Store)
    return sorted(public, key=lambda name: source.index(f"def {name}("))


def _table() -> list[list[str]]:
    """The cells of the method table's rows (header and rule left out)."""
    rows = []
    for line in DOCUMENT.read_text("utf-8").splitlines():
        if line.startswith("| `"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_the_table_lists_every_method_in_the_protocols_order() -> None:
    """One row per `Store` method, in order: a new method fails here until it is placed."""
    listed = [re.fullmatch(r"`(\w+)`", row[0]) for row in _table()]
    assert [m.group(1) if m else None for m in listed] == _protocol_methods()


def test_every_cell_names_what_exists() -> None:
    """Each ``check.x`` is a check of validation; each ``module.function`` is defined there."""
    missing = []
    for method, checked, *backends in _table():
        if checked == "—":
            assert method.strip("`") in UNCHECKED, method
        else:
            assert checked == f"`check.{method.strip('`')}`", (method, checked)
            assert callable(getattr(check, method.strip("`"))), method
        for backend, cell in zip(COLUMNS, backends, strict=True):
            for module, function in re.findall(r"`(\w+)\.(\w+)`", cell):
                path = BACKENDS / backend / f"{module}.py"
                text = path.read_text("utf-8") if path.is_file() else ""
                if not re.search(rf"^\s*(async )?def {function}\(", text, re.MULTILINE):
                    missing.append(f"{backend}: {module}.{function} (row {method})")
    assert not missing, missing


def test_fault_tests_do_not_run_the_contract_suites_stores() -> None:
    """A test on the suite's per-target store is a contract test: not in tests/faults/."""
    borrowing = [
        path.name
        for path in sorted((ROOT / "tests" / "faults").glob("*.py"))
        if re.search(r"contract_tests\.plugin|\bharness: Harness\b", path.read_text("utf-8"))
    ]
    assert not borrowing, borrowing


def _method_bodies(path: Path) -> dict[str, ast.AST]:
    """The methods of the classes of a backend's store.py, by name."""
    tree = ast.parse(path.read_text("utf-8"))
    return {
        node.name: node
        for cls in tree.body
        if isinstance(cls, ast.ClassDef)
        for node in cls.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def test_every_backend_method_makes_its_one_shared_check() -> None:
    """Each backend's method calls ``check.<method>``, so no backend checks on its own."""
    missing = []
    for backend in COLUMNS:
        methods = _method_bodies(BACKENDS / backend / "store.py")
        for name in _protocol_methods():
            if name in UNCHECKED:
                continue
            calls = {
                node.func.attr
                for node in ast.walk(methods[name])
                if isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "check"
            }
            if name not in calls:
                missing.append(f"{backend}.{name}")
    assert not missing, missing
