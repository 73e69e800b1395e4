"""What the sdist and the wheel carry: the license, the docs the README links, the code.

Built with the build backend itself (hatchling, a dev dependency), from the checkout,
into a temporary directory: no network and no isolated build environment. The wheel is
then unpacked where an application would have its own `contract_tests` package, to show
that the installed suite goes by `skillbox_store_contract_tests`, runs with its contract
text, and that the library never imports it.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest

import skillbox_store

ROOT = Path(__file__).resolve().parent.parent

SUITE = "skillbox_store_contract_tests"
"""The installed name of the contract suite (``contract_tests/`` in the checkout)."""


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory the sdist and the wheel are built into."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-d", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return out


@pytest.fixture(scope="module")
def built(dist: Path) -> tuple[set[str], set[str], str]:
    """Return the sdist's member names, the wheel's and its METADATA."""
    out = dist
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    with tarfile.open(sdist) as archive:
        # Without the leading "skillbox_store-<version>/".
        sdist_names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    with zipfile.ZipFile(wheel) as archive:
        wheel_names = set(archive.namelist())
        (metadata_name,) = (n for n in wheel_names if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(metadata_name).decode()
    return sdist_names, wheel_names, metadata


def test_the_wheel_carries_the_license_and_the_code(built: tuple[set[str], set[str], str]) -> None:
    _, wheel, metadata = built
    version = skillbox_store.__version__
    assert f"skillbox_store-{version}.dist-info/licenses/LICENSE" in wheel
    assert "License-Expression: MIT" in metadata
    assert f"Version: {version}" in metadata
    for name in (
        "skillbox_store/py.typed",
        "skillbox_store/testing.py",
        "skillbox_store/migrations/sqlite/0001_initial.sql",
        "skillbox_store/migrations/postgres/0001_initial.sql",
        "skillbox_store/testing_postgres.py",
        f"{SUITE}/__init__.py",
        f"{SUITE}/__main__.py",
        f"{SUITE}/plugin.py",
        f"{SUITE}/test_stateful.py",
        # The text of the clauses that failures name, read by test_clause_map.py too.
        f"{SUITE}/contract.md",
    ):
        assert name in wheel, name
    # Never a top-level `contract_tests`, which an application's own package would shadow.
    tops = {name.split("/", 1)[0] for name in wheel}
    assert tops == {"skillbox_store", SUITE, f"skillbox_store-{version}.dist-info"}, tops
    assert not any("__pycache__" in name for name in wheel)


def test_the_installed_contract_is_the_documents(
    built: tuple[set[str], set[str], str], dist: Path
) -> None:
    (wheel,) = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        installed = archive.read(f"{SUITE}/contract.md").decode()
    assert installed == (ROOT / "docs" / "contract.md").read_text("utf-8")


@pytest.fixture(scope="module")
def installed(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The wheel unpacked (as pip would install it), and an application's directory.

    The application has its own `contract_tests` package, which fails if imported.
    """
    (wheel,) = dist.glob("*.whl")
    site = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    app = tmp_path_factory.mktemp("app")
    (app / "contract_tests").mkdir()
    (app / "contract_tests" / "__init__.py").write_text(
        'raise ImportError("the application\'s own contract_tests was imported")\n'
    )
    return site, app


def _in_app(site: Path, app: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run Python in the application's directory, the unpacked wheel first on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(app)])
    for name in ("SKILLBOX_CONTRACT_BACKENDS", "HYPOTHESIS_PROFILE", "PYTEST_ADDOPTS"):
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, *args],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


_IMPORT_EVERYTHING = textwrap.dedent(
    """
    import importlib, pkgutil, sys
    import skillbox_store

    assert skillbox_store.__file__.startswith(sys.argv[1]), skillbox_store.__file__
    for module in pkgutil.walk_packages(skillbox_store.__path__, "skillbox_store."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    suites = ("contract_tests", sys.argv[2])
    suite = sorted(m for m in sys.modules if m.split(".")[0] in suites)
    assert not suite, f"skillbox_store imported its test suite: {suite}"
    print("imported", len([m for m in sys.modules if m.startswith("skillbox_store.")]))
    """
)


def test_the_library_never_imports_its_suite(installed: tuple[Path, Path]) -> None:
    """Every module of the installed library imports without the suite (or the app's)."""
    site, app = installed
    done = _in_app(site, app, "-c", _IMPORT_EVERYTHING, str(site), SUITE)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "imported" in done.stdout


def _imported_modules(source: str) -> set[str]:
    """Every module an ``import`` in ``source`` names, at any depth (lazy imports too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_no_module_of_the_library_names_its_suite(installed: tuple[Path, Path]) -> None:
    """Not even inside a function: the plugin's throwaway PostgreSQL once was."""
    site, _ = installed
    for path in sorted((site / "skillbox_store").rglob("*.py")):
        suites = {
            name
            for name in _imported_modules(path.read_text("utf-8"))
            if name.split(".")[0] in ("contract_tests", SUITE)
        }
        assert not suites, f"{path.relative_to(site)} imports {sorted(suites)}"


@pytest.mark.postgres
def test_the_plugin_runs_in_an_app_with_its_own_contract_tests(
    installed: tuple[Path, Path], postgres_url: str, tmp_path: Path
) -> None:
    """`postgresql+throwaway://` in an application that has a `contract_tests` package.

    The server of this session is handed over by URL, so no second cluster starts.
    """
    site, app = installed
    project = tmp_path / "project"
    project.mkdir()
    (project / "conftest.py").write_text('pytest_plugins = ["skillbox_store.testing"]\n')
    (project / "test_app.py").write_text(
        "def test_a_store(skillbox_store_runner):\n"
        "    assert skillbox_store_runner.run(skillbox_store_runner.store.list_keys('a')) == []\n"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(app)])
    env["SKILLBOX_TEST_POSTGRES_URL"] = postgres_url
    done = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA"),
            *("--skillbox-store-url", "postgresql+throwaway://", str(project)),
        ],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "1 passed" in output, output
    assert "skillbox-store test store: postgresql+throwaway://" in output, output


def test_the_installed_suite_runs_by_its_name(installed: tuple[Path, Path]) -> None:
    """`python -m skillbox_store_contract_tests` runs the wheel's suite, clause map too.

    From an application's directory whose own `contract_tests` would fail if imported;
    the clause map reads the contract installed with the suite, so it runs, never skips.
    """
    site, app = installed
    options = ["--store-url", "memory://", "-p", "no:cacheprovider", "-v", "-rs"]
    selected = ["-k", "clause_map or test_declared_capabilities"]
    done = _in_app(site, app, "-m", SUITE, *options, *selected)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "test_every_clause_has_a_test PASSED" in output, output
    assert "test_declared_capabilities_are_implemented[memory://] PASSED" in output, output
    assert "SKIPPED" not in output, output
    assert "5 passed" in output, output


def test_an_editable_install_serves_the_suite_from_the_checkout() -> None:
    """Installed with `pip install -e`, the suite's installed name is the checkout's files."""
    spec = importlib.util.find_spec(SUITE)
    assert spec is not None, f"{SUITE} is not importable: reinstall with pip install -e ."
    assert spec.origin == str(ROOT / "contract_tests" / "__init__.py"), spec.origin


def test_the_sdist_carries_license_docs_and_tests(built: tuple[set[str], set[str], str]) -> None:
    sdist, _, _ = built
    expected = {"LICENSE", "README.md", "pyproject.toml", "skillbox_store/__init__.py"}
    # The build hook that gives an editable install the suite's installed name.
    expected |= {"hatch_build.py", "contract_tests/__main__.py"}
    expected |= {str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md")}
    assert expected <= sdist, expected - sdist
    assert any(name.startswith("tests/") for name in sdist)


def test_the_license_is_mit_for_skillbox() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License")
    assert "Copyright (c) 2026 Skillbox" in text
