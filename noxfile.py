"""Sessions for the checks CI runs: `nox -s lint typecheck tests`."""

from __future__ import annotations

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
    """mypy --strict (configured in pyproject) on the package and the contract suite."""
    session.install("-e", ".[dev]")
    session.run("mypy", "skillbox_store", "contract_tests")


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """Every test: unit tests, backend tests and the contract suite on every backend."""
    session.install("-e", ".[dev]")
    session.run("python", "-m", "pytest", *session.posargs)
