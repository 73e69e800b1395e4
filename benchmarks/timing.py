"""Timing helpers: interleaved rounds and median ratios of two ways to do one thing."""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

__all__ = ["Case", "Result", "compare", "format_results"]

Call = Callable[[int], Awaitable[object]]
"""One operation; its argument is the iteration number (to vary keys and ids)."""


@dataclass(frozen=True, slots=True)
class Case:
    """One operation done through the store and the same SQL done the raw way."""

    name: str
    store: Call
    raw: Call


@dataclass(frozen=True, slots=True)
class Result:
    """Medians over rounds: microseconds per call each way, and store/raw."""

    backend: str
    name: str
    store_us: float
    raw_us: float
    ratio: float


async def _per_call(call: Call, start: int, iterations: int) -> float:
    began = time.perf_counter()
    for i in range(start, start + iterations):
        await call(i)
    return (time.perf_counter() - began) / iterations * 1e6


async def compare(backend: str, cases: list[Case], rounds: int, iterations: int) -> list[Result]:
    """Time every case over ``rounds`` rounds of ``iterations`` calls each way.

    Rounds interleave the cases and alternate which way goes first, so drift in the
    machine's load (other processes, caches, WAL growth) lands on both sides alike.
    """
    store_times: dict[str, list[float]] = {c.name: [] for c in cases}
    raw_times: dict[str, list[float]] = {c.name: [] for c in cases}
    ratios: dict[str, list[float]] = {c.name: [] for c in cases}
    for round_number in range(rounds):
        for case in cases:
            start = round_number * iterations * 2
            if round_number % 2 == 0:
                store = await _per_call(case.store, start, iterations)
                raw = await _per_call(case.raw, start + iterations, iterations)
            else:
                raw = await _per_call(case.raw, start, iterations)
                store = await _per_call(case.store, start + iterations, iterations)
            store_times[case.name].append(store)
            raw_times[case.name].append(raw)
            ratios[case.name].append(store / raw)
    return [
        Result(
            backend,
            c.name,
            statistics.median(store_times[c.name]),
            statistics.median(raw_times[c.name]),
            statistics.median(ratios[c.name]),
        )
        for c in cases
    ]


def format_results(results: list[Result], raw_label: str) -> str:
    """Return a table of results, one line per operation."""
    lines = [
        f"{'backend':<9} {'operation':<18} {'store µs':>9} {raw_label + ' µs':>14} {'store/raw':>9}"
    ]
    for r in results:
        lines.append(
            f"{r.backend:<9} {r.name:<18} {r.store_us:>9.1f} {r.raw_us:>14.1f} {r.ratio:>9.2f}"
        )
    return "\n".join(lines)
