"""``skillbox-store status`` on SQLite imports no record module (issue #22, item 4).

SQLModel, SQLAlchemy and pydantic were 300 ms of the command's 440 ms start: ``status``
imported the records through the SQLite store for reads that need none of them. Checked
by what the command imports, not by a timing (benchmarks/startup.py measures that):
each run goes through ``python -m skillbox_store`` in a fresh interpreter, with a
wrapper that writes the heavy modules in ``sys.modules`` to a file at exit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Final

import pytest

from skillbox_store.migrations import latest_version

HEAVY: Final = ("sqlmodel", "sqlalchemy", "pydantic", "pydantic_core")

# Runs ``python -m skillbox_store ARGS`` as it runs from a shell (runpy, as ``-m`` does),
# then, at exit, writes the heavy modules it imported to the file named first.
_WRAPPER: Final = f"""
import atexit, json, runpy, sys

report = sys.argv.pop(1)

def write_report():
    with open(report, "w") as out:
        json.dump(sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r}), out)

atexit.register(write_report)
runpy.run_module("skillbox_store", run_name="__main__", alter_sys=True)
"""

# Subprocesses of a loaded machine can be slow to start; this only bounds a hang.
_TIMEOUT: Final = 120


def _run(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run the command line with ``args``; return what it did and the heavy imports."""
    report = tmp_path / "imported.json"
    report.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "SKILLBOX_STORE_URL"}
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER, str(report), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr)
    imported: list[str] = json.loads(report.read_text("utf-8"))
    return done, imported


@pytest.fixture(scope="module")
def tiny_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated SQLite file holding one API key."""
    url = f"sqlite:///{tmp_path_factory.mktemp('tiny') / 'tiny.db'}"
    env = {k: v for k, v in os.environ.items() if k != "SKILLBOX_STORE_URL"}
    for args in (["migrate"], ["keys", "create", "--tenant", "t", "--name", "n"]):
        subprocess.run(
            [sys.executable, "-m", "skillbox_store", "--url", url, *args],
            capture_output=True,
            env=env,
            timeout=_TIMEOUT,
            check=True,
        )
    return url


def test_the_wrapper_sees_the_records_where_a_command_needs_them(
    tmp_path: Path, tiny_url: str
) -> None:
    """A command that returns records imports them: the report below is not vacuous."""
    done, imported = _run(tmp_path, "--url", tiny_url, "keys", "list", "--tenant", "t")
    assert "sqlmodel" in imported
    assert "pydantic" in imported
    assert done.stdout


@pytest.mark.parametrize("output", [[], ["--json"]], ids=["text", "json"])
def test_status_on_a_migrated_sqlite_file_imports_no_record_module(
    tmp_path: Path, tiny_url: str, output: list[str]
) -> None:
    done, imported = _run(tmp_path, "--url", tiny_url, "status", *output)
    assert imported == []
    # And it did report the store, as the store itself would.
    if output:
        report = json.loads(done.stdout)
        assert report["implementation"] == "skillbox_store.backends.sqlite.store.SqliteStore"
        assert report["schema_version"] == latest_version()
        assert report["counts"]["api_keys"] == 1
    else:
        assert f"schema version:     {latest_version()} (up to date)\n" in done.stdout
        assert "api_keys records:   1\n" in done.stdout


@pytest.mark.parametrize("name", ["fresh.db", ":memory:"])
def test_status_on_an_unmigrated_sqlite_store_imports_no_record_module(
    tmp_path: Path, name: str
) -> None:
    url = f"sqlite:///{name if name == ':memory:' else tmp_path / name}"
    done, imported = _run(tmp_path, "--url", url, "status")
    assert imported == []
    assert "no tables yet (run: skillbox-store migrate)" in done.stdout


def test_importing_the_sqlite_probe_imports_no_record_module() -> None:
    code = (
        "import sys; import skillbox_store.backends.sqlite.probe; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=_TIMEOUT, check=True
    )
    assert done.stdout.strip() == "[]"
