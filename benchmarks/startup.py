"""Start-up time of the command line and the package, as ratios to a bare interpreter.

Warm timings: every command runs once untimed (to fill the OS file cache and write the
bytecode), then ``--runs`` times, interleaved so that drift in the machine's load lands
on every command alike; the median of each is printed in milliseconds and as a ratio to
``python -c pass`` measured in the same run. The console script is run by its path next
to the interpreter (not through a pyenv shim, whose bash wrapper costs more than the
program). A script, not a test: the figures move with the machine's load.

    python benchmarks/startup.py [--runs 21]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from skillbox_store.cli.app import _COMMANDS


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
    cases["skillbox-store status (tiny SQLite file)"] = [*cli, "--url", sqlite_url, "status"]
    return cases


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
        cli = _console_script()
        subprocess.run(
            [*cli, "--url", sqlite_url, "migrate"], env=env, capture_output=True, check=True
        )
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


if __name__ == "__main__":
    main()
