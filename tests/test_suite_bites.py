"""The contract suite bites: it fails on broken backends and passes on a sound one.

Each broken backend of `broken_backends` wraps the memory backend and breaks one
promise. They are registered as entry points of group ``skillbox_store.backends`` by a
throwaway ``.dist-info`` directory on the subprocess's ``PYTHONPATH``, and the installed
suite is run against each by URL in a subprocess, exactly as a third-party backend
author would run it. Each run selects the tests that concern its break (``-k``), uses
the dev profile without shrinking (profile ``bites``) and a fixed seed, so a run is
reproducible, and stops at the first failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# tests/ is not a package: pytest puts it on sys.path, as the subprocesses' PYTHONPATH does.
from broken_backends import BREAKS

# About 17 subprocess runs of the suite: a minute and a half on two cores.
pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent

# break -> (the tests that must catch it, a symptom the failure report must show).
# The model-based test catches every break of the store's state; the targeted tests
# catch the rest. The symptom proves the failure is the break's, not some other bug
# of the wrapped store (which the control would show too).
CAUGHT_BY = {
    "isolation": ("test_stateful", "expected NotFoundError"),
    "revocation": ("test_stateful", "validates"),
    "chains": ("test_stateful", "list_file_versions("),
    "ordering": ("test_stateful", "list_keys("),
    "paging": ("test_stateful", "paging through"),
    # A block that fails to roll back shows in whichever listing it wrote to.
    "transactions": ("test_stateful", "rolled back"),
    "finish-twice": ("test_stateful", "expected AlreadyFinishedError"),
    "upload-time": ("test_stateful", "kept the caller's uploaded_at"),
    "bad-input": ("test_bad_key_input", "expected InvalidArgumentError"),
    "driver-error": ("test_malformed_ids", "escaped a Store method"),
}
# The same breaks, caught by the deterministic targeted tests alone.
CAUGHT_BY_TARGETED = {
    "isolation": "test_isolation",
    "revocation": "test_concurrent_revocations",
    "chains": "test_concurrent_file_versions",
    "ordering": "test_transaction_commits",
    "paging": "test_pages_yield_each_record_once",
    "transactions": "test_transaction_rolls_back",
    "finish-twice": "test_concurrent_updates_finish_once",
}


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory whose .dist-info registers every broken backend as an entry point."""
    root = tmp_path_factory.mktemp("broken-backends")
    info = root / "broken_backends_for_tests-0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: broken-backends-for-tests\nVersion: 0\n"
    )
    lines = ["[skillbox_store.backends]"]
    lines += [f"broken-{name} = broken_backends:open_{name.replace('-', '_')}" for name in BREAKS]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return root


def _run_suite(plugin_path: Path, tmp_path: Path, scheme: str, *pytest_args: str) -> str:
    """Run the installed contract suite against ``scheme://``; return its output."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(plugin_path), str(HERE), *filter(None, [env.get("PYTHONPATH")])]
    )
    env["HYPOTHESIS_PROFILE"] = "bites"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "contract_tests.plugin",
        "--pyargs",
        "contract_tests",
        "--store-url",
        f"{scheme}://",
        "-q",
        "-p",
        "no:cacheprovider",
        "--hypothesis-seed=0",
        *pytest_args,
    ]
    # A temporary working directory keeps the failing examples these runs find out of
    # the project's Hypothesis database.
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    return f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"


def test_sound_wrapper_passes(plugin_path: Path, tmp_path: Path) -> None:
    """Control: the wrapper that breaks nothing passes the whole suite."""
    output = _run_suite(plugin_path, tmp_path, "broken-none")
    assert output.startswith("exit 0\n"), output


@pytest.mark.parametrize("name", sorted(CAUGHT_BY))
def test_broken_backend_fails(plugin_path: Path, tmp_path: Path, name: str) -> None:
    """Each broken backend fails the tests that concern its break."""
    tests, symptom = CAUGHT_BY[name]
    output = _run_suite(plugin_path, tmp_path, f"broken-{name}", "-x", "-k", tests)
    # Exit 1 is "tests failed"; 2-5 would mean the run itself went wrong.
    assert output.startswith("exit 1\n"), output
    assert "1 failed" in output, output
    assert symptom in output, output


@pytest.mark.parametrize("name", sorted(CAUGHT_BY_TARGETED))
def test_targeted_tests_catch_breaks(plugin_path: Path, tmp_path: Path, name: str) -> None:
    """The deterministic targeted tests catch the same breaks without the machine."""
    output = _run_suite(
        plugin_path, tmp_path, f"broken-{name}", "-x", "-k", CAUGHT_BY_TARGETED[name]
    )
    assert output.startswith("exit 1\n"), output
    assert "1 failed" in output, output
