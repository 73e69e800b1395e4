"""Crash durability of a SQLite file: a writer killed with SIGKILL at random moments.

A child process writes executions, files and multi-write `transaction()` blocks, and
reports each on stdout (flushed) only after its await returned. The test kills it at
random moments, at least 20 times, and after each kill checks the file: every reported
record reads back intact, every block, reported or not, is all or nothing, ``PRAGMA
integrity_check`` and ``foreign_key_check`` pass, and the store opens and writes.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Final

import pytest

from skillbox_store import Execution, open_store

KILLS: Final = 20
# Each child dies this long after it reported being ready: long enough for a few
# dozen writes, short enough that the whole test stays around half a minute.
KILL_AFTER: Final = (0.0, 0.3)
# A child that neither gets ready nor dies within this is a hang: the test fails.
CHILD_LIMIT: Final = 30.0

# Every record carries what it must read back as, derived from its seed, so the parent
# can check it is intact without keeping the child's state. A block's records carry
# the block's size in their names, so a block never reported can be checked too.
_CHILD = """
import asyncio, random, sys
from skillbox_store import Execution, File, open_store

def say(*words):
    print(*words, flush=True)

def payload(seed):
    return {"seed": seed, "pad": "p" * (seed % 700), "list": list(range(seed % 17))}

async def main(path, seed):
    rng = random.Random(seed)
    async with open_store("sqlite:///" + path, busy_timeout=10) as store:
        say("ready")
        while True:
            seed = rng.randrange(10**9)
            kind = rng.choice("EFB")
            if kind == "E":
                e = await store.create_execution(Execution(
                    tenant_id="t", skill_name=f"e-{seed}", skill_version="1",
                    input=payload(seed), logs="l" * (seed % 3000)))
                say("E", e.id, seed)
            elif kind == "F":
                f = await store.create_file(File(
                    tenant_id="t", name=f"f-{seed}", s3_key=f"k/{seed}", size_bytes=seed))
                say("F", f.id, seed)
            else:
                size = rng.randint(2, 5)
                name = f"b-{seed}-{size}"
                say("begin", name, seed)
                async with store.transaction() as tx:
                    first = None
                    for i in range(size):
                        e = await tx.create_execution(Execution(
                            tenant_id="t", skill_name=name, skill_version=str(i),
                            input=payload(seed + i)))
                        first = first or e
                        await asyncio.sleep(0)
                    await tx.create_file(File(
                        tenant_id="t", name=name, s3_key=f"k/{seed}", execution_id=first.id))
                    await tx.update_execution(first.model_copy(update={"status": "success"}))
                say("B", name, seed)

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


def _payload(seed: int) -> dict[str, object]:
    return {"seed": seed, "pad": "p" * (seed % 700), "list": list(range(seed % 17))}


def _run_child_until_killed(path: Path, seed: int, rng: random.Random) -> list[list[str]]:
    """Start a writer, SIGKILL it at a random moment; return the lines it completed."""
    # Unbuffered bytes: a buffered reader's `readline` reads ahead, and `communicate`
    # (which reads the pipe itself) would never see what was read ahead, so the first
    # reports after "ready" were lost or cut in two.
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path), str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
    )
    try:
        assert child.stdout is not None
        ready = child.stdout.readline()  # a raw file reads a line byte by byte
        assert ready == b"ready\n", f"the writer did not start: {ready!r}"
        time.sleep(rng.uniform(*KILL_AFTER))
        child.send_signal(signal.SIGKILL)
        out, err = child.communicate(timeout=CHILD_LIMIT)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL, f"the writer died by itself: {err!r}"
    # A line cut by the kill has no newline: only whole lines were reported.
    *whole, _cut = out.decode().split("\n")
    lines = [line.split() for line in whole]
    assert all(len(line) == 3 for line in lines), f"malformed reports: {whole}"
    return lines


def _check_file(path: Path, reported: list[list[str]]) -> None:
    """Integrity, reported records intact, blocks all or nothing (raw sqlite3)."""
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        executions = {
            row[0]: row[1:]
            for row in conn.execute(
                "SELECT id, skill_name, input, logs, status FROM executions WHERE tenant_id = 't'"
            )
        }
        files = {
            row[0]: row[1:]
            for row in conn.execute(
                "SELECT id, name, s3_key, size_bytes FROM files WHERE tenant_id = 't'"
            )
        }
    finally:
        conn.close()
    for kind, name, seed_text in reported:
        seed = int(seed_text)
        if kind == "begin":
            continue
        if kind == "E":
            skill_name, input_text, logs, status = executions[name]
            assert skill_name == f"e-{seed}"
            assert json.loads(input_text) == _payload(seed)
            assert logs == "l" * (seed % 3000)
            assert status == "running"
        elif kind == "F":
            assert files[name] == (f"f-{seed}", f"k/{seed}", seed)
        else:
            assert any(row[0] == name for row in executions.values()), f"block {name} lost"
    # Every block, reported or cut by the kill: all of its writes or none of them.
    block_executions = Counter(row[0] for row in executions.values() if row[0].startswith("b-"))
    block_files = Counter(row[0] for row in files.values() if row[0].startswith("b-"))
    finished = Counter(
        row[0] for row in executions.values() if row[0].startswith("b-") and row[3] == "success"
    )
    for name, count in block_executions.items():
        size = int(name.rsplit("-", 1)[1])
        assert (count, block_files[name], finished[name]) == (size, 1, 1), f"block {name} torn"
    assert set(block_files) <= set(block_executions)


async def _opens_and_writes(path: Path) -> None:
    async with open_store(f"sqlite:///{path}", busy_timeout=10) as store:
        stored = await store.create_execution(
            Execution(tenant_id="after", skill_name="s", skill_version="1")
        )
        assert (await store.get_execution("after", stored.id)).id == stored.id


@pytest.mark.slow
def test_a_writer_killed_at_random_moments_loses_no_reported_write(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    rng = random.Random(int.from_bytes(os.urandom(4), "big"))
    seed = rng.randrange(10**6)
    print(f"seed {seed}")  # shown on failure, to replay the children's choices
    rng = random.Random(seed)
    reported: list[list[str]] = []
    kinds: Counter[str] = Counter()
    inside_blocks = 0
    for kill in range(KILLS):
        lines = _run_child_until_killed(path, seed + kill, rng)
        reported += lines
        kinds.update(line[0] for line in lines)
        inside_blocks += bool(lines) and lines[-1][0] == "begin"
        _check_file(path, reported)
        asyncio.run(_opens_and_writes(path))
    print(f"{KILLS} kills, {inside_blocks} inside an open block; reported {dict(kinds)}")
    # The kills landed while the writer was busy, some inside open blocks, and every
    # kind of write was reported.
    assert set(kinds) == {"E", "F", "B", "begin"}, kinds
    assert inside_blocks >= 1
