"""The pytest plugin of the contract suite: ``--store-url``, targets, and store fixtures.

Every test that asks for ``store_url`` (directly or through ``harness``) runs once per
target; its id names the backend (``memory``, ``sqlite-file``, ``sqlite-memory``,
``postgres``, or the redacted ``--store-url``).

From a checkout, ``contract_tests/conftest.py`` loads this plugin. Run as an installed
package, pytest reads no conftest before it parses the command line, so the plugin is
named explicitly::

    pytest -p contract_tests.plugin --pyargs contract_tests --store-url mystore://...
    python -m contract_tests --store-url mystore://...        # the same, shorter

It is deliberately not a ``pytest11`` entry point: that would load it into every pytest
run of every project that installs skillbox-store.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol, cast

import pytest

from contract_tests.harness import Harness
from contract_tests.targets import Target, default_targets, url_targets

__all__ = [
    "harness",
    "postgres_url",
    "pytest_addoption",
    "pytest_generate_tests",
    "pytest_report_header",
    "sqlite_dir",
    "store_url",
]

STORE_URL_OPTION = "--store-url"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--store-url``."""
    parser.getgroup("skillbox-store contract").addoption(
        STORE_URL_OPTION,
        action="append",
        default=[],
        metavar="URL",
        help="run the contract suite against the store at URL (repeatable); "
        "default: every built-in backend that can run here",
    )


def _targets(config: pytest.Config) -> list[Target]:
    urls: list[str] = config.getoption(STORE_URL_OPTION)
    return url_targets(urls) if urls else default_targets()


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Say which stores and which Hypothesis profile the run uses."""
    names = ", ".join(t.id for t in _targets(config))
    profile = os.environ.get("HYPOTHESIS_PROFILE") or "dev"
    return [f"skillbox-store contract: {names}; hypothesis profile {profile}"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test that needs a store once per target."""
    if "target" in metafunc.fixturenames:
        targets = _targets(metafunc.config)
        metafunc.parametrize("target", targets, ids=[t.id for t in targets])


class _ProvidePostgres(Protocol):
    def __call__(self) -> AbstractContextManager[str]: ...


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL from `contract_tests.postgres_server`; fails (never skips) without."""
    try:
        module = importlib.import_module("contract_tests.postgres_server")
    except ImportError as exc:
        pytest.fail(f"PostgreSQL target unavailable: {exc}", pytrace=False)
    provide = cast(_ProvidePostgres, module.provide_postgres)
    unavailable = cast(type[Exception], module.PostgresUnavailable)
    try:
        with provide() as url:
            yield url
    except unavailable as exc:
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
