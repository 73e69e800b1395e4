"""docs/contract.md and the suite's ``@clause`` marks name the same clauses.

The clause ids are read from the document's clause lines (the format its header gives)
and from the suite's source, by parsing every ``contract_tests/*.py`` for ``clause(...)``
calls with string arguments, so nothing is collected or imported. A clause without a
test, a test naming a clause the document lacks, or a test naming a withdrawn clause
fails here.

docs/contract.md is authoritative and lives in the repository's docs/; the wheel
installs a copy next to the suite (`contract_document` finds either). The map is checked
wherever the suite runs: a missing document fails, it never skips.
"""

from __future__ import annotations

import ast
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

from .clauses import CLAUSE_ID, CLAUSE_LINE, clause_texts, contract_document

SUITE: Final = Path(__file__).resolve().parent
DOCUMENT: Final = contract_document()

WITHDRAWN: Final = "*withdrawn*"


@dataclass(frozen=True, slots=True)
class Contract:
    """The clause ids of the document, in order, and which of them are withdrawn."""

    ids: tuple[str, ...]
    withdrawn: frozenset[str]

    @property
    def live(self) -> frozenset[str]:
        """The ids a test must name."""
        return frozenset(self.ids) - self.withdrawn


def read_contract(text: str) -> Contract:
    """Return the clauses of the document's text; the header's format example is skipped."""
    ids: list[str] = []
    withdrawn: set[str] = set()
    in_sections = False
    for line in text.splitlines():
        if line.startswith("## "):
            in_sections = True
        match = CLAUSE_LINE.match(line) if in_sections else None
        if match is None:
            continue
        ids.append(match["id"])
        if match["text"].strip().startswith(WITHDRAWN):
            withdrawn.add(match["id"])
    return Contract(tuple(ids), frozenset(withdrawn))


def _is_clause_call(node: ast.Call) -> bool:
    func = node.func
    return (isinstance(func, ast.Name) and func.id == "clause") or (
        isinstance(func, ast.Attribute) and func.attr == "clause"
    )


def read_named_ids(directory: Path) -> dict[str, set[str]]:
    """Return each clause id named by a ``clause(...)`` call, with the files naming it.

    Raises:
        AssertionError: a ``clause(...)`` call has an argument that is not a string
            literal, so the map could not see it.
    """
    named: dict[str, set[str]] = {}
    for path in sorted(directory.glob("*.py")):
        tree = ast.parse(path.read_text("utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and _is_clause_call(node)):
                continue
            for arg in node.args:
                if isinstance(arg, ast.Starred) and path.name == "clauses.py":
                    continue  # the decorator's own definition passes its ids along
                if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                    raise AssertionError(
                        f"{path.name}:{node.lineno}: clause() needs string literals, "
                        "or the clause map cannot read it"
                    )
                named.setdefault(arg.value, set()).add(path.name)
    return named


@pytest.fixture(scope="module")
def contract() -> Contract:
    """The clauses of docs/contract.md (or the copy installed with the suite)."""
    if not DOCUMENT.is_file():
        pytest.fail(f"{DOCUMENT} is missing: the suite is installed without it", pytrace=False)
    return read_contract(DOCUMENT.read_text("utf-8"))


@pytest.fixture(scope="module")
def named() -> dict[str, set[str]]:
    """The clause ids the suite's tests name, with the files naming them."""
    return read_named_ids(SUITE)


def test_contract_ids_are_well_formed_and_unique(contract: Contract) -> None:
    """Every clause id has the documented shape and appears once."""
    assert contract.ids, f"no clause lines found in {DOCUMENT}"
    malformed = [i for i in contract.ids if not CLAUSE_ID.match(i)]
    assert not malformed, f"malformed clause ids in docs/contract.md: {malformed}"
    repeated = sorted(i for i, n in Counter(contract.ids).items() if n > 1)
    assert not repeated, f"clause ids listed more than once in docs/contract.md: {repeated}"


def test_every_clause_has_a_test(contract: Contract, named: dict[str, set[str]]) -> None:
    """Each live clause of docs/contract.md is named by at least one @clause test."""
    untested = [i for i in contract.ids if i in contract.live and i not in named]
    assert not untested, (
        f"{len(untested)} clause(s) of docs/contract.md have no @clause test: "
        + ", ".join(untested)
    )


def test_every_named_clause_is_in_the_contract(
    contract: Contract, named: dict[str, set[str]]
) -> None:
    """Each id a test names is a live clause of docs/contract.md."""
    unknown = {i: sorted(files) for i, files in named.items() if i not in contract.ids}
    assert not unknown, f"tests name clause ids that docs/contract.md does not have: {unknown}"
    withdrawn = {i: sorted(files) for i, files in named.items() if i in contract.withdrawn}
    assert not withdrawn, f"tests name withdrawn clauses: {withdrawn}"


def test_the_map_reads_what_it_should(tmp_path: Path) -> None:
    """The readers see clause lines only in sections, and every string argument."""
    text = (
        "# Title\n\n- **`area.method.promise`** The format example.\n\n## 1. One\n\n"
        "- **`a.b.c`** Kept.\n  - **`not.a.clause`** indented\n"
        "- **`a.b.gone`** *withdrawn* Once promised.\n"
    )
    assert read_contract(text) == Contract(("a.b.c", "a.b.gone"), frozenset({"a.b.gone"}))
    assert clause_texts(text + "  continued.\n\nAfter.\n") == {
        "a.b.c": "Kept.",
        "a.b.gone": "*withdrawn* Once promised. continued.",
    }
    (tmp_path / "test_x.py").write_text(
        "@clause('a.b.c', \"a.b.d\")\ndef test() -> None: ...\npytest.mark.clause('a.b.e')\n",
        "utf-8",
    )
    assert read_named_ids(tmp_path) == {
        "a.b.c": {"test_x.py"},
        "a.b.d": {"test_x.py"},
        "a.b.e": {"test_x.py"},
    }
    (tmp_path / "test_y.py").write_text("ids = ['x.y']\nclause(*ids)\n", "utf-8")
    with pytest.raises(AssertionError, match="string literals"):
        read_named_ids(tmp_path)
