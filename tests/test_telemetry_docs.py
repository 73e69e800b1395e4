"""docs/observability.md's runnable example prints what the page says it prints."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "observability.md"


def test_the_console_example_prints_the_spans_shown(tmp_path: Path) -> None:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## A runnable example", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    shown = re.search(r"```text\n(.*?)```", section, re.DOTALL)
    assert code is not None
    assert shown is not None
    (tmp_path / "example.py").write_text(code.group(1), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "example.py"],
        cwd=tmp_path,
        # The example relies on `auto`: an SDK configured, nothing else said.
        env={k: v for k, v in os.environ.items() if not k.startswith("SKILLBOX_STORE_")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == shown.group(1)
