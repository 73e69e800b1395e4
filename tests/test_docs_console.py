"""Every recorded console session of the README and docs/ prints what it says it prints.

A console block is a fenced ```` ```console ```` block; its lines starting with ``$ ``
are commands, the lines after each command its output (stdout and stderr together, as
a terminal shows them). Each block runs as one bash script, in a new empty directory,
with this interpreter's ``skillbox-store`` first on ``PATH`` and no
``SKILLBOX_STORE_URL``; the output is compared line by line once ids, key hashes,
times, ping times and the directory are masked.

Two rules say what is not run, and both show in the docs themselves:

* ``pip install …`` is never run (the package under test is installed already): a
  command made only of it is left out, and ``pip install … && rest`` runs ``rest``.
* A block right after the line ``<!-- console: not run: REASON -->`` is not run (the
  whole test suite, a third-party server, a benchmark of minutes); the reason is
  required, and `test_every_block_is_run_or_says_why_not` lists them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))

_NOT_RUN = re.compile(r"<!-- console: not run: (?P<reason>[^>]+?) -->")
_PIP_INSTALL = re.compile(r"^pip install [^&]*(?:&& (?P<rest>.*))?$")
_MARKER = "@@skillbox-docs-command@@"

# What differs between two runs of the same session, most specific first.
_MASKS = (
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<id>"),
    (re.compile(r"\b[0-9a-f]{64}\b"), "<hash>"),
    (re.compile(r"\b\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?Z"), "<time>"),
    (re.compile(r"\b\d+\.\d+ ms\b"), "<ms> ms"),
)


@dataclass(frozen=True, slots=True)
class Block:
    """One console block: where it is, its commands with their expected output."""

    where: str
    commands: list[tuple[str, list[str]]]
    not_run: str | None


def _blocks(document: Path) -> list[Block]:
    lines = document.read_text().splitlines()
    found: list[Block] = []
    for start, line in enumerate(lines):
        if line.strip() != "```console":
            continue
        end = next(i for i in range(start + 1, len(lines)) if lines[i].strip() == "```")
        commands: list[tuple[str, list[str]]] = []
        for body in lines[start + 1 : end]:
            if body.startswith("$ "):
                commands.append((body[2:], []))
            elif commands:
                commands[-1][1].append(body)
        reason = _NOT_RUN.fullmatch(lines[start - 1].strip()) if start else None
        where = f"{document.relative_to(ROOT)}:{start + 1}"
        found.append(Block(where, commands, reason["reason"] if reason else None))
    return found


ALL_BLOCKS = [block for document in DOCUMENTS for block in _blocks(document)]
RUN_BLOCKS = [block for block in ALL_BLOCKS if block.not_run is None]


def _runnable(command: str) -> str | None:
    """The command as run: without its ``pip install … &&`` prefix; None if nothing is left."""
    pip = _PIP_INSTALL.match(command)
    if pip is None:
        return command
    return pip["rest"]


def _mask(text: str, directory: Path) -> str:
    text = text.replace(str(directory), "<dir>")
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return text.rstrip()


def _run_block(block: Block, directory: Path) -> list[str]:
    """Run the block's commands in one bash; return each command's output."""
    script = ["exec 2>&1"]
    for command, _ in block.commands:
        runnable = _runnable(command)
        script.append(f"echo {_MARKER}")
        if runnable is not None:
            script.append(runnable)
    env = {k: v for k, v in os.environ.items() if k != "SKILLBOX_STORE_URL"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    # Unbuffered, so that a command's stdout and stderr interleave as on a terminal.
    env["PYTHONUNBUFFERED"] = "1"
    result = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    outputs = result.stdout.split(f"{_MARKER}\n")
    assert outputs[0] == "", result.stdout
    return outputs[1:]


def test_the_documents_have_console_blocks() -> None:
    assert len(RUN_BLOCKS) >= 3, [block.where for block in ALL_BLOCKS]
    assert all(block.commands for block in ALL_BLOCKS), "a console block without a $ command"


def test_every_block_is_run_or_says_why_not() -> None:
    not_run = {block.where: block.not_run for block in ALL_BLOCKS if block.not_run}
    assert all(reason.strip() for reason in not_run.values())
    # The blocks left out, by reason; a new one is a decision to make here, visibly.
    assert sorted(not_run.values()) == sorted(
        [
            "it is the whole test suite",
            "a synopsis (KEY_ID is a placeholder); docs/cli.md has the recorded session",
            "it needs a third-party backend and its server",
            "its figures are the machine's (a run takes about a minute)",
            "its figures are the machine's",
            "it needs your application's tests and database",
            "needs a Citus coordinator",
            "it starts a Citus cluster; its figures are the machine's",
        ]
    ), not_run


def test_the_pip_install_rule() -> None:
    assert _runnable("pip install . && skillbox-store migrate") == "skillbox-store migrate"
    assert _runnable("pip install 'skillbox-store[contract]' your-backend") is None
    assert _runnable("skillbox-store status") == "skillbox-store status"


@pytest.mark.parametrize("block", RUN_BLOCKS, ids=[block.where for block in RUN_BLOCKS])
def test_a_recorded_session_prints_what_it_says(block: Block, tmp_path: Path) -> None:
    outputs = _run_block(block, tmp_path)
    assert len(outputs) == len(block.commands)
    for (command, expected), output in zip(block.commands, outputs, strict=True):
        shown = _mask("\n".join(expected), tmp_path)
        assert _mask(output, tmp_path) == shown, f"{block.where}: $ {command}"
