"""Time the store against its raw driver on each backend; print median store/raw ratios.

    python benchmarks/run.py --backend sqlite --rounds 7 --iterations 300

A ratio at or below 1.0 means the store costs no more than the same SQL sent the
natural way through the driver. This is a script, not a timed test: numbers depend on
the machine and its load.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    # Run as a script: make `benchmarks` and `skillbox_store` importable from the repo.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.postgres_bench import run_postgres
from benchmarks.sqlite_bench import run_sqlite
from benchmarks.timing import Result, format_results

Runner = Callable[[int, int], Coroutine[Any, Any, list[Result]]]

# One entry per backend: name -> (coroutine function (rounds, iterations) -> results,
# the store/raw ratio it aims at). A new backend adds its `<name>_bench.py` and a line.
BACKENDS: dict[str, tuple[Runner, float]] = {
    "sqlite": (run_sqlite, 1.0),
    "postgres": (run_postgres, 1.3),
}


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the chosen backends, print their tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=[*BACKENDS, "all"], default="all")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (median)")
    parser.add_argument("--iterations", type=int, default=300, help="calls per round and side")
    args = parser.parse_args(argv)
    names = list(BACKENDS) if args.backend == "all" else [args.backend]
    results: list[Result] = []
    verdicts: list[str] = []
    for name in names:
        runner, target = BACKENDS[name]
        mine = asyncio.run(runner(args.rounds, args.iterations))
        results += mine
        worst = max(r.ratio for r in mine)
        verdict = "met" if worst <= target else "MISSED"
        verdicts.append(f"{name}: worst store/raw {worst:.2f}, target <= {target:.2f}: {verdict}")
    print(format_results(results, raw_label="raw driver"))
    print("\n".join(verdicts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
