"""The pytest plugin of the contract suite: ``--store-url``, targets, and store fixtures.

Every test that asks for ``store_url`` (directly or through ``harness``) runs once per
target; its id names the backend (``memory``, ``sqlite-file``, ``sqlite-memory``,
``postgres``, or the redacted ``--store-url``).

The suite lives in ``contract_tests/`` in a checkout and is installed as the package
``skillbox_store_contract_tests``, a name no application's own ``contract_tests`` can
shadow; its modules import each other relatively, so they work under either name.
From a checkout, ``contract_tests/conftest.py`` loads this plugin. Run as an installed
package, pytest reads no conftest before it parses the command line, so the plugin is
named explicitly::

    python -m skillbox_store_contract_tests --store-url mystore://...
    pytest -p skillbox_store_contract_tests.plugin --pyargs skillbox_store_contract_tests \
        --store-url mystore://...                 # the same, with your own pytest plugins

It is deliberately not a ``pytest11`` entry point: that would load it into every pytest
run of every project that installs skillbox-store.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final, Literal, cast

import pytest

from skillbox_store import Store
from skillbox_store.capabilities import CAPABILITIES, declared, supports
from skillbox_store.testing_postgres import (
    PostgresUnavailable,
    application_url,
    provide_postgres,
)

from .harness import Harness
from .targets import Target, TargetError, check_targets

__all__ = [
    "harness",
    "postgres_url",
    "pytest_addoption",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_generate_tests",
    "pytest_report_header",
    "pytest_terminal_summary",
    "require_capability",
    "sqlite_dir",
    "store_url",
]

STORE_URL_OPTION = "--store-url"
CLAUSE_OPTION = "--clause"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--store-url`` and ``--clause``."""
    group = parser.getgroup("skillbox-store contract")
    group.addoption(
        STORE_URL_OPTION,
        action="append",
        default=[],
        metavar="URL",
        help="run the contract suite against the store at URL (repeatable); "
        "default: every built-in backend that can run here",
    )
    group.addoption(
        CLAUSE_OPTION,
        action="append",
        default=[],
        metavar="ID",
        help="run only the tests of this clause of docs/contract.md (repeatable); an id "
        "ending in '.' selects every clause under it, e.g. --clause sessions.",
    )


CapabilityOutcome = Literal["tested", "skipped"]

_TARGETS = pytest.StashKey[list[Target]]()
# target id -> capability name -> what the run did with it.
_CAPABILITIES = pytest.StashKey[dict[str, dict[str, CapabilityOutcome]]]()


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``clause`` marker and check the targets before anything is collected.

    A target no installed backend can open is a usage error (exit code 4) reported in
    one line, instead of one failure or collection error per test.
    """
    config.addinivalue_line(
        "markers", "clause(*ids): the clauses of docs/contract.md the test proves"
    )
    urls: list[str] = config.getoption(STORE_URL_OPTION)
    try:
        config.stash[_TARGETS] = check_targets(urls)
    except TargetError as exc:
        raise pytest.UsageError(f"skillbox-store contract suite: {exc}") from None
    config.stash[_CAPABILITIES] = {}


def _targets(config: pytest.Config) -> list[Target]:
    if _TARGETS not in config.stash:
        # pytest_configure checked them already; this only spares a second lookup.
        config.stash[_TARGETS] = check_targets(config.getoption(STORE_URL_OPTION))
    return config.stash[_TARGETS]


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Say which stores, which Hypothesis profile and which capabilities the run uses."""
    names = ", ".join(t.id for t in _targets(config))
    profile = os.environ.get("HYPOTHESIS_PROFILE") or "dev"
    optional = ", ".join(CAPABILITIES)
    return [
        f"skillbox-store contract: {names}; hypothesis profile {profile}",
        f"optional capabilities, tested where a target declares them: {optional} "
        "(which were tested and skipped per target: at the end of the run)",
    ]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say, per target, which optional capabilities were tested and which skipped."""
    outcomes = terminalreporter.config.stash.get(_CAPABILITIES, {})
    if not outcomes:
        return
    terminalreporter.section("skillbox-store optional capabilities")
    for target_id, by_name in outcomes.items():
        tested = sorted(n for n, o in by_name.items() if o == "tested") or ["none"]
        skipped = sorted(n for n, o in by_name.items() if o == "skipped") or ["none"]
        terminalreporter.write_line(
            f"{target_id}: tested {', '.join(tested)}; skipped (not declared) {', '.join(skipped)}"
        )


def _run_order(item: pytest.Item) -> int:
    if item.get_closest_marker("clause") is not None:
        return 0
    return 2 if item.name.startswith("test_stateful") else 1


_SUITE_DIRECTORY: Final = Path(__file__).resolve().parent


def _in_suite(item: pytest.Item) -> bool:
    # By file, not by module name: the suite is `contract_tests` in a checkout and
    # `skillbox_store_contract_tests` once installed.
    return item.path.resolve().parent == _SUITE_DIRECTORY


def _proves(item: pytest.Item, wanted: list[str]) -> bool:
    ids = [i for mark in item.iter_markers("clause") for i in mark.args]
    return any(i == w or (w.endswith(".") and i.startswith(w)) for i in ids for w in wanted)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the suite's targeted clause tests first and its stateful machine last.

    A broken clause is then reported by the test that names it, within seconds, before
    the slower random tests run (and with ``-x``, instead of them). Tests from outside
    the suite, in a run that collects both, keep their order, ahead of the suite's.
    With ``--clause``, only the tests of those clauses run.
    """
    suite = sorted((item for item in items if _in_suite(item)), key=_run_order)
    items[:] = [item for item in items if not _in_suite(item)] + suite
    wanted: list[str] = config.getoption(CLAUSE_OPTION)
    if wanted:
        deselected = [item for item in items if not _proves(item, wanted)]
        if deselected:
            config.hook.pytest_deselected(items=deselected)
            items[:] = [item for item in items if _proves(item, wanted)]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test that needs a store once per target."""
    if "target" in metafunc.fixturenames:
        targets = _targets(metafunc.config)
        metafunc.parametrize("target", targets, ids=[t.id for t in targets])


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL from `skillbox_store.testing_postgres`; fails (never skips) without.

    The URL of a plain application role, not the cluster's superuser: so that the suite
    runs with row-level security in force, as production should.
    """
    try:
        with provide_postgres() as url:
            yield application_url(url)
    except PostgresUnavailable as exc:
        pytest.fail(f"PostgreSQL target unavailable: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def sqlite_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory for the SQLite file target, one per session."""
    return tmp_path_factory.mktemp("sqlite-contract")


@pytest.fixture
def store_url(target: Target, request: pytest.FixtureRequest) -> str:
    """The URL of the store under test, obtained lazily for targets that need a server."""
    if target.kind == "postgres":
        return cast(str, request.getfixturevalue("postgres_url"))
    if target.kind == "sqlite-file":
        directory = cast(Path, request.getfixturevalue("sqlite_dir"))
        return f"sqlite:///{directory / 'contract.db'}"
    return target.url


@pytest.fixture
def harness(store_url: str) -> Iterator[Harness]:
    """A store opened through `open_store` on its own event loop, closed after the test."""
    with Harness(store_url) as opened:
        yield opened


RequireCapability = Callable[[str], Store]


@pytest.fixture
def require_capability(
    harness: Harness, target: Target, request: pytest.FixtureRequest
) -> RequireCapability:
    """Return ``require(name)``: the harness's store if it declares capability ``name``.

    A store that does not declare the capability skips the test: only capability tests
    may ask for this, so a core clause is never skipped. A store that declares it
    without its methods fails.
    """
    by_target = request.config.stash.setdefault(_CAPABILITIES, {})
    outcomes = by_target.setdefault(target.id, {})

    def require(name: str) -> Store:
        store = harness.store
        if name not in declared(store):
            outcomes.setdefault(name, "skipped")
            pytest.skip(f"{target.id} does not declare the optional capability {name!r}")
        outcomes[name] = "tested"
        protocol = CAPABILITIES[name].protocol
        if not supports(store, name):
            raise AssertionError(
                f"the store declares capability {name!r} but is not a {protocol.__name__}"
            )
        return store

    return require
