"""Running the whole contract suite against one URL, as a backend author runs it.

`python -m skillbox_store_contract_tests --store-url URL` in a child process: the tests
that prove the store on a real component (PgBouncer, Citus, an adopted Go database)
point the suite at it and keep its summary line.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = ["SuiteRun", "run_contract_suite"]

_ROOT: Final = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class SuiteRun:
    """How the suite ended: its exit status, its last line, and its output."""

    returncode: int
    summary: str
    stdout: str
    stderr: str

    def failure(self, tail: int = 20_000) -> str:
        """What a failing test shows: the summary, then the end of the output."""
        return f"{self.summary}\n{self.stdout[-tail:]}\n{self.stderr[-5_000:]}"


def run_contract_suite(url: str, *, timeout: float) -> SuiteRun:
    """Run the whole suite on ``url`` (and nothing else); return how it ended."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "skillbox_store_contract_tests",
            "--store-url",
            url,
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        cwd=_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
        # Only the URL given: not the built-in targets a variable may name.
        env={**os.environ, "SKILLBOX_CONTRACT_BACKENDS": "", "PYTHONDONTWRITEBYTECODE": "1"},
    )
    lines = done.stdout.strip().splitlines()
    summary = lines[-1] if lines else done.stderr.strip()
    return SuiteRun(done.returncode, summary, done.stdout, done.stderr)
