"""Start-up time of the command line and the package, as ratios to a bare interpreter.

Warm timings: every command runs once untimed (to fill the OS file cache and write the
bytecode), then ``--runs`` times, interleaved so that drift in the machine's load lands
on every command alike; the median of each is printed in milliseconds and as a ratio to
``python -c pass`` measured in the same run. The console script is run by its path next
to the interpreter (not through a pyenv shim, whose bash wrapper costs more than the
program). A script, not a test: the figures move with the machine's load.

After the table, one line per target says whether the run met it (`TARGETS`).

    python benchmarks/startup.py [--runs 21]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Final

from skillbox_store.cli.app import _COMMANDS
from skillbox_store.migrations import latest_version

STATUS: Final = "skillbox-store status (tiny SQLite file)"

TARGETS: Final = {"status (tiny SQLite file)": (STATUS, 5.0)}
"""Each target's name: the command timed, and the most it may take as a ratio to
``python -c pass`` (issue #22, item 4)."""


def _console_script() -> list[str]:
    script = Path(sys.executable).with_name("skillbox-store")
    if script.exists():
        return [str(script)]
    # An interpreter without the script beside it (a system Python): the same program.
    return [sys.executable, "-m", "skillbox_store"]


def _cases(sqlite_url: str) -> dict[str, list[str]]:
    cli = _console_script()
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import skillbox_store'": [sys.executable, "-c", "import skillbox_store"],
        "python -c 'from skillbox_store import open_store'": [
            sys.executable,
            "-c",
            "from skillbox_store import open_store",
        ],
        "skillbox-store --help": [*cli, "--help"],
        "skillbox-store --version": [*cli, "--version"],
    }
    for command in sorted(_COMMANDS):
        cases[f"skillbox-store {command} --help"] = [*cli, command, "--help"]
    cases[STATUS] = [*cli, "--url", sqlite_url, "status"]
    return cases


def _tiny_store(sqlite_url: str, env: dict[str, str]) -> None:
    """Migrate a new SQLite file and store one API key; check that status sees just that.

    Timing status on an unmigrated file would time another path (no tables to count).
    """
    cli = _console_script()
    for args in (["migrate"], ["keys", "create", "--tenant", "bench", "--name", "startup"]):
        subprocess.run([*cli, "--url", sqlite_url, *args], env=env, capture_output=True, check=True)
    shown = subprocess.run(
        [*cli, "--url", sqlite_url, "status", "--json"],
        env=env,
        capture_output=True,
        check=True,
        text=True,
    )
    report = json.loads(shown.stdout)
    if report["schema_version"] != latest_version() or report["counts"]["api_keys"] != 1:
        raise SystemExit(f"the tiny SQLite store is not what was meant: {shown.stdout}")


def _verdicts(medians: dict[str, float], baseline: float) -> list[str]:
    """One line per target: the ratio measured, the target, and whether it was met."""
    lines = []
    for name, (case, target) in TARGETS.items():
        # Judged on the ratio as printed, so that a line never reads "5.0x ... MISSED".
        ratio = round(medians[case] / baseline, 1)
        verdict = "met" if ratio <= target else "MISSED"
        lines.append(f"{name}: {ratio:.1f}x python -c pass, target <= {target:.1f}x: {verdict}")
    return lines


def _time_once(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return (time.perf_counter() - started) * 1000


def main() -> None:
    """Print the median start-up time of each command and its ratio to ``python -c pass``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="timed runs per command")
    runs = parser.parse_args().runs
    env = {k: v for k, v in os.environ.items() if k != "SKILLBOX_STORE_URL"}
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_url = f"sqlite:///{Path(tmp) / 'tiny.db'}"
        _tiny_store(sqlite_url, env)
        cases = _cases(sqlite_url)
        for argv in cases.values():
            _time_once(argv, env)
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(runs):
            for name, argv in cases.items():
                times[name].append(_time_once(argv, env))
    medians = {name: statistics.median(samples) for name, samples in times.items()}
    baseline = medians["python -c pass"]
    width = max(map(len, medians))
    print(f"{'command':<{width}}  {'median ms':>9}  {'ratio':>6}   ({runs} warm runs each)")
    for name, ms in medians.items():
        print(f"{name:<{width}}  {ms:9.1f}  {ms / baseline:5.1f}x")
    print()
    for line in _verdicts(medians, baseline):
        print(line)


if __name__ == "__main__":
    main()
