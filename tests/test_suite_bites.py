"""The contract suite bites: it fails on broken backends, fast and naming the clause.

Each broken backend of `broken_backends` wraps the memory backend and breaks one
clause of docs/contract.md. They are registered as entry points of group
``skillbox_store.backends`` by a throwaway ``.dist-info`` directory on the subprocess's
``PYTHONPATH``, and the installed suite is run against each by URL in a subprocess,
exactly as a third-party backend author would run it:

* the control, the wrapper that breaks nothing, passes the whole suite on the ``dev``
  profile within `REPORT_WITHIN` seconds: a broken backend's run is no longer (``dev``
  does not shrink the stateful machine's failures), so any break is reported in that
  time;
* the tests of the broken clause (``--clause <id>``) on the ``dev`` profile, with a
  fixed seed so a run is reproducible, fail within `REPORT_WITHIN` seconds and name it
  (``broken clause <id>``); these runs go two at a time (a break may upset other
  clauses' tests too: the whole suite reports those as well);
* the model-based stateful test alone (profile ``bites``: dev without shrinking, more
  examples) must catch every break of the store's state: it is the net under the
  targeted tests.

The module also checks how the suite reports a wrong target, a missing pytest and the
optional capabilities it tested.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

# tests/ is not a package: pytest puts it on sys.path, as the subprocesses' PYTHONPATH does.
from broken_backends import BREAKS

from skillbox_store.capabilities import CAPABILITIES

# About 30 subprocess runs of the suite, two at a time: two minutes on two cores.
pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent

SUITE_PACKAGE = "skillbox_store_contract_tests"
"""The installed name of the suite (``contract_tests/`` in the checkout)."""

REPORT_WITHIN = 60.0
"""Seconds within which the dev profile must report any single broken clause."""

# break -> the clause it breaks, which the failure report must name.
BROKEN_CLAUSE = {
    "isolation": "keys.revoke.scoped",
    "revocation": "keys.validate.revoked",
    "chains": "files.versions.chain",
    "ordering": "keys.list.newest_first",
    "paging": "executions.list.offset",
    "transactions": "tx.rollback",
    "finish-twice": "executions.update.once",
    "bad-input": "errors.invalid.empty",
    "driver-error": "errors.id.malformed",
    "upload-time": "skills.upsert.uploaded_at",
    "touch-time": "sessions.touch.bumps",
    "file-update-time": "files.update.bumps",
    "version-content-type": "files.version.inherits",
    "executions-clamp": "executions.list.clamp",
    "session-delete-files": "sessions.delete.keeps_files",
    "upsert-description": "skills.upsert.updates",
    "get-or-create-time": "sessions.get_or_create.bumps",
    "update-input": "executions.update.keeps",
    "session-files-cap": "files.session.all",
}

# break -> a symptom the stateful test's report must show. It proves the failure is the
# break's, not some other bug of the wrapped store (which the control would show too).
CAUGHT_BY_MACHINE = {
    "isolation": "expected NotFoundError",
    "revocation": "validates",
    "chains": "list_file_versions(",
    "ordering": "list_keys(",
    "paging": "paging through",
    # A block that fails to roll back shows in whichever listing it wrote to.
    "transactions": "rolled back",
    "finish-twice": "expected AlreadyFinishedError",
    "upload-time": "kept the caller's uploaded_at",
}


@dataclass(frozen=True)
class Run:
    """One subprocess run of the suite: its exit code, output and wall time."""

    returncode: int
    output: str
    seconds: float

    def __str__(self) -> str:
        return f"exit {self.returncode} after {self.seconds:.1f} s\n{self.output}"


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


def _env(plugin_path: Path, profile: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(plugin_path), str(HERE), *filter(None, [env.get("PYTHONPATH")])]
    )
    env["HYPOTHESIS_PROFILE"] = profile
    env.pop("SKILLBOX_CONTRACT_BACKENDS", None)
    env.update(extra)
    return env


def _run(command: list[str], cwd: Path, env: dict[str, str], timeout: float = 600) -> Run:
    # A temporary working directory keeps the failing examples these runs find out of
    # the project's Hypothesis database.
    start = time.monotonic()
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    return Run(done.returncode, f"{done.stdout}\n{done.stderr}", time.monotonic() - start)


def _suite(plugin_path: Path, cwd: Path, scheme: str, profile: str, *pytest_args: str) -> Run:
    """Run the installed suite, as an author would, against ``scheme://``."""
    command = [
        sys.executable,
        "-m",
        SUITE_PACKAGE,
        "--store-url",
        f"{scheme}://",
        "-q",
        "-p",
        "no:cacheprovider",
        "--hypothesis-seed=0",
        *pytest_args,
    ]
    return _run(command, cwd, _env(plugin_path, profile))


@pytest.fixture(scope="module")
def dev_runs(
    plugin_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Future[Run]]]:
    """The whole suite on the dev profile against each broken backend, two at a time.

    Started together when the first test asks, so the runs overlap each other and the
    machine's runs below; each test then waits for its own.
    """
    pool = ThreadPoolExecutor(max_workers=2)
    try:
        yield {
            name: pool.submit(
                _suite,
                plugin_path,
                tmp_path_factory.mktemp(f"dev-{name}"),
                f"broken-{name}",
                "dev",
                "--clause",
                clause_id,
            )
            for name, clause_id in BROKEN_CLAUSE.items()
        }
    finally:
        # When a test fails and the run stops (-x), runs not started are not awaited.
        pool.shutdown(wait=True, cancel_futures=True)


def test_every_break_has_a_clause() -> None:
    """Every broken backend (but the control) says which clause it breaks."""
    assert set(BROKEN_CLAUSE) == set(BREAKS) - {"none"}


def test_sound_wrapper_passes_within_a_minute(plugin_path: Path, tmp_path: Path) -> None:
    """Control: the wrapper that breaks nothing passes the whole suite, on dev, in time."""
    run = _suite(plugin_path, tmp_path, "broken-none", "dev")
    print(f"broken-none: whole suite in {run.seconds:.1f} s")  # shown by -rP
    assert run.returncode == 0, run
    assert run.seconds < REPORT_WITHIN, run


@pytest.mark.parametrize("name", sorted(BROKEN_CLAUSE))
def test_break_is_named_within_a_minute(dev_runs: dict[str, Future[Run]], name: str) -> None:
    """On dev, the broken clause's tests fail within REPORT_WITHIN s and name it."""
    run = dev_runs[name].result()
    print(f"broken-{name}: reported in {run.seconds:.1f} s")  # shown by -rP, for the record
    # Exit 1 is "tests failed"; 2-5 would mean the run itself went wrong.
    assert run.returncode == 1, run
    assert f"broken clause {BROKEN_CLAUSE[name]}" in run.output.replace(",", " "), run
    # Once: not the original error and then a BrokenClause chained to it.
    assert "direct cause of the following exception" not in run.output, run
    # With the clause's text, from the contract installed with the suite.
    assert f"  {BROKEN_CLAUSE[name]}: " in run.output, run
    assert run.seconds < REPORT_WITHIN, run


@pytest.mark.parametrize("name", sorted(CAUGHT_BY_MACHINE))
def test_machine_catches_break(plugin_path: Path, tmp_path: Path, name: str) -> None:
    """The stateful test alone catches each break of the store's state."""
    run = _suite(plugin_path, tmp_path, f"broken-{name}", "bites", "-x", "-k", "test_stateful")
    assert run.returncode == 1, run
    assert "1 failed" in run.output, run
    assert CAUGHT_BY_MACHINE[name] in run.output, run


# -- How the suite reports its targets ----------------------------------------------------


def _main(cwd: Path, env: dict[str, str], *args: str, prelude: str = "") -> Run:
    code = f"{prelude}import runpy, sys; sys.argv[1:] = {list(args)!r}; "
    code += f"runpy.run_module({SUITE_PACKAGE!r}, run_name='__main__', alter_sys=True)"
    return _run([sys.executable, "-c", code], cwd, env, timeout=120)


def test_unknown_scheme_is_one_usage_error(plugin_path: Path, tmp_path: Path) -> None:
    """A --store-url no installed backend serves stops the run before collection."""
    run = _main(tmp_path, _env(plugin_path, "dev"), "--store-url", "redis://u:pw@host/0")
    assert run.returncode == 4, run
    errors = [line for line in run.output.splitlines() if line.strip()]
    assert len(errors) == 1, run
    assert "redis://" in errors[0], run
    assert "installed schemes: memory://" in errors[0], run
    assert "broken-none://" in errors[0], run
    assert "pw" not in errors[0], run


def test_other_pytest_plugins_stay_out_of_the_one_line_error(
    plugin_path: Path, tmp_path: Path
) -> None:
    """With every warning an error, a wrong URL is still one line and exit code 4.

    ``python -m`` loads no pytest plugin but Hypothesis's: pytest-asyncio (installed
    here, a dev dependency) warns at configure from 1.4 on when its loop scope is unset,
    which printed ahead of the error and, as an error, stopped the run (INTERNALERROR).
    """
    env = _env(plugin_path, "dev", PYTHONWARNINGS="error")
    run = _main(tmp_path, env, "--store-url", "redis://host/0")
    assert run.returncode == 4, run
    errors = [line for line in run.output.splitlines() if line.strip()]
    assert len(errors) == 1, run
    assert "redis://" in errors[0], run


@pytest.mark.parametrize("wanted", ["memory,bogus", "memory,redis://host/0", " , "])
def test_unknown_backend_in_environment(plugin_path: Path, tmp_path: Path, wanted: str) -> None:
    """SKILLBOX_CONTRACT_BACKENDS naming no installed backend is one usage error."""
    env = _env(plugin_path, "dev", SKILLBOX_CONTRACT_BACKENDS=wanted)
    run = _main(tmp_path, env)
    assert run.returncode == 4, run
    errors = [line for line in run.output.splitlines() if line.strip()]
    assert len(errors) == 1, run
    assert "SKILLBOX_CONTRACT_BACKENDS" in errors[0], run


def test_environment_names_plugged_backend_by_url(plugin_path: Path, tmp_path: Path) -> None:
    """SKILLBOX_CONTRACT_BACKENDS accepts URLs, so a plugged-in backend can be named there.

    The capability report says the wrapper, which declares nothing, skipped them all.
    """
    env = _env(plugin_path, "dev", SKILLBOX_CONTRACT_BACKENDS="broken-none://,memory")
    # --strict-markers: the plugin registers the clause marker itself, so an installed
    # suite (no pyproject of ours in sight) runs under it.
    run = _main(
        tmp_path, env, "-v", "-p", "no:cacheprovider", "--strict-markers", "-k", "capabilit"
    )
    assert run.returncode == 0, run
    assert "skillbox-store contract: broken-none://, memory;" in run.output, run
    assert "test_declared_capabilities_are_implemented[broken-none://] PASSED" in run.output, run
    every = ", ".join(sorted(CAPABILITIES))
    assert f"broken-none://: tested none; skipped (not declared) {every}" in run.output, run
    assert f"memory: tested {every}; skipped (not declared) none" in run.output, run


def test_without_pytest_says_what_to_install(plugin_path: Path, tmp_path: Path) -> None:
    """With pytest not importable, ``python -m skillbox_store_contract_tests`` says so."""
    blocked = "import sys; sys.modules['pytest'] = None; "
    run = _main(tmp_path, _env(plugin_path, "dev"), "--store-url", "memory://", prelude=blocked)
    assert run.returncode == 4, run
    assert "pip install 'skillbox-store[contract]'" in run.output, run
    assert "Traceback" not in run.output, run
