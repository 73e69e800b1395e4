"""Sessions for the checks CI runs: `nox -s lint typecheck tests`, then `compat` and `newest`."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path
from typing import Any

import nox
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.default_venv_backend = "venv"

PYTHONS = ["3.11", "3.12", "3.13"]


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff, on everything."""
    session.install("ruff")
    session.run("ruff", "check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict (configured in pyproject) on the package, the suites and benchmarks."""
    session.install("-e", ".[dev]")
    session.run("mypy", "skillbox_store", "contract_tests", "tests", "benchmarks")


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """Every test: unit tests, backend tests and the contract suite on every backend."""
    session.install("-e", ".[dev]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session(python=["3.12", "3.13"])
def compat(session: nox.Session) -> None:
    """The memory and SQLite tests on newer Pythons, where the driver warns differently.

    `.ci/run` runs it (Python 3.11 runs everything already): the contract suite on
    memory and both SQLite targets, every SQLite test that runs units of work and the
    SQLite timeouts, in the quick Hypothesis profile. pyproject's ``filterwarnings``
    make a warning raised from the project an error, so a deprecation that 3.12 or 3.13
    adds fails here first (sqlite3's numbered placeholders did). No
    PostgreSQL: the postgres extra is only installed because the tests' conftest
    imports psycopg.
    """
    # pytest-asyncio too: pyproject sets its loop-scope option, which pytest would
    # otherwise warn about as unknown.
    # otel: the probe's test that telemetry on opens the store instead needs the API.
    session.install("-e", ".[postgres,contract,otel]", _dev_requirement("pytest-asyncio"))
    sqlite_tests = sorted(str(path) for path in Path("tests").glob("test_sqlite_*.py"))
    # Timed, but mostly asleep: the per-call deadlines on this Python's threads.
    sqlite_tests.append("tests/faults/test_sqlite_busy.py")
    session.run(
        "python",
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "contract_tests",
        *sqlite_tests,
        *session.posargs,
        env={
            "SKILLBOX_CONTRACT_BACKENDS": "memory,sqlite-file,sqlite-memory",
            "HYPOTHESIS_PROFILE": "dev",
        },
    )


def _pyproject() -> dict[str, Any]:
    project: dict[str, Any] = tomllib.loads(Path("pyproject.toml").read_text("utf-8"))["project"]
    return project


def _dev_requirement(name: str) -> str:
    """The dev extra's requirement of ``name``, bounds included, as pyproject gives it."""
    for spec in _pyproject()["optional-dependencies"]["dev"]:
        if canonicalize_name(Requirement(spec).name) == canonicalize_name(name):
            return str(spec)
    raise LookupError(f"{name} is not in the dev extra of pyproject.toml")


# Checkers, not test dependencies: a newer release brings new rules, taken up on purpose
# by raising their bounds and fixing what they find, not by the tests.
NOT_TESTED = {"mypy", "nox", "ruff"}


def _unbounded_requirements() -> list[str]:
    """Every dependency of pyproject.toml the tests use, runtime and extras, unbounded.

    Read from pyproject so that a dependency added there is upgraded here too; the
    project's own extras (``skillbox-store[...]``) are left out, their members are listed.
    """
    project = _pyproject()
    extras = project["optional-dependencies"].values()
    names = set()
    for spec in [*project["dependencies"], *(spec for extra in extras for spec in extra)]:
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        if name == canonicalize_name(project["name"]) or name in NOT_TESTED:
            continue
        extra = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
        names.add(f"{requirement.name}{extra}")
    return sorted(names)


# The fast tests that show whether the README's test command still passes with the
# newest releases: the contract suite on memory and SQLite in memory, the pytest plugin
# under pytest-asyncio and anyio (and on PostgreSQL), `python -m
# skillbox_store_contract_tests` and its one-line errors, the warning filters, and the
# wheel built by the newest hatchling.
NEWEST_TESTS = [
    "contract_tests",
    "tests/test_testing_plugin.py",
    "tests/test_suite_bites.py",
    "tests/test_sqlite_warnings.py",
    "tests/test_packaging.py",
]


@nox.session
def newest(session: nox.Session) -> None:
    """The fast tests with the newest release of every dependency, bounds ignored.

    pyproject's dev extra bounds the test tools above by the newest release tested, so
    a fresh `pip install -e '.[dev]'` gets what CI ran. This session is how the bounds
    move: it installs the newest of everything (runtime dependencies, pytest and its
    plugins, Hypothesis, hatchling), prints the versions, imports and collects every
    test with warnings as errors (a plugin's new deprecation warning broke the README's
    command once), and runs the fast tests (`NEWEST_TESTS`, about two minutes). When it
    passes, raise the bounds to the versions it printed; when it fails, the failure is
    what a fresh machine would meet once the bound is raised. `.ci/run` runs it.
    """
    session.install(
        "--upgrade", "--upgrade-strategy", "eager", "-e", ".", *_unbounded_requirements()
    )
    session.run("python", "-m", "pip", "list", "--format=freeze")
    env = {"SKILLBOX_CONTRACT_BACKENDS": "memory,sqlite-memory", "HYPOTHESIS_PROFILE": "dev"}
    session.run("python", "-W", "error", "-m", "pytest", "--collect-only", "-q", env=env)
    session.run(
        "python",
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        # The sound wrapper runs the whole suite again; the broken ones run it per clause.
        "-k",
        "not test_break_is_named and not test_machine_catches and not test_sound_wrapper",
        *NEWEST_TESTS,
        *session.posargs,
        env=env,
    )


# What the mutation session mutates, and the test command that must kill each mutant:
# the contract suite on memory://, dev profile, a fixed seed so that a mutant's verdict
# does not depend on the run.
MUTATED = ["skillbox_store/backends/memory/*", "skillbox_store/validation/*"]
MUTATION_PYTEST_ARGS = [
    "--store-url=memory://",
    "-x",
    "-q",
    "-p",
    "no:cacheprovider",
    "--hypothesis-seed=0",
]


@nox.session(python="3.11")
def mutation(session: nox.Session) -> None:
    """Mutation score of the contract suite: mutmut over the memory backend and validation.

    Not part of CI: run it by hand before a release (about an hour on two cores). It
    works in a copy of the project under .nox/, so the checkout is never mutated and
    the work is kept between runs (mutmut re-tests only what changed). Each surviving
    mutant must be killed by a clause test or explained in
    contract_tests/EQUIVALENT_MUTANTS.md. ``nox -s mutation -- results`` (or ``show
    <mutant>``) passes its arguments to mutmut instead of running.
    """
    session.install("-e", ".[dev]", "mutmut==3.8.1")
    root = Path(__file__).resolve().parent
    work = Path(session.create_tmp()) / "mutation"
    work.mkdir(exist_ok=True)
    # docs/contract.md: the suite's clause map test reads it.
    for package in ("skillbox_store", "contract_tests", "docs"):
        shutil.copytree(
            root / package,
            work / package,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    shutil.copy2(root / "pyproject.toml", work / "pyproject.toml")
    lines = [
        "[mutmut]",
        "source_paths=skillbox_store",
        "only_mutate=",
        *(f"    {pattern}" for pattern in MUTATED),
        "also_copy=",
        "    contract_tests",
        "    docs",
        "pytest_add_cli_args_test_selection=contract_tests",
        "pytest_add_cli_args=",
        *(f"    {arg}" for arg in MUTATION_PYTEST_ARGS),
    ]
    (work / "setup.cfg").write_text("\n".join(lines) + "\n")
    session.chdir(work)
    env = {"HYPOTHESIS_PROFILE": "dev"}
    if session.posargs:
        session.run("mutmut", *session.posargs, env=env)
        return
    session.run("mutmut", "run", env=env)
    session.run("mutmut", "results", env=env)
