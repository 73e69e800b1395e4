"""Sessions for the checks CI runs: `nox -s lint typecheck tests`."""

from __future__ import annotations

import shutil
from pathlib import Path

import nox

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
    adds fails here first (sqlite3's numbered placeholders did, issue 11). No
    PostgreSQL: the postgres extra is only installed because the tests' conftest
    imports psycopg.
    """
    session.install("-e", ".[postgres,contract]")
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


# What the mutation session mutates, and the test command that must kill each mutant:
# the contract suite on memory://, dev profile, a fixed seed so that a mutant's verdict
# does not depend on the run.
MUTATED = ["skillbox_store/backends/memory/*", "skillbox_store/validation.py"]
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
