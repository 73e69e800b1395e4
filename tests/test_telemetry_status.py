"""``skillbox-store status`` shows the connection pool's health (issue 23).

Driven in a subprocess, as the command line's own tests do. Only PostgreSQL has a
pool; on SQLite the pool fields are absent from the text and ``null`` in JSON.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

PASSWORD_IN_URL = "Pw-s3cr3t%409Zq"


def status(url: str, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "SKILLBOX_STORE_URL"}
    done = subprocess.run(
        [sys.executable, "-m", "skillbox_store", "--url", url, *args, "status"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, (done.stdout, done.stderr)
    return done.stdout


def with_schema(postgres_url: str, schema: str) -> str:
    """The test server's URL with a password (it trusts any) and the schema."""
    parts = urlsplit(postgres_url)
    netloc = f"{parts.username or 'postgres'}:{PASSWORD_IN_URL}@{parts.hostname}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode({"schema": schema})))


def test_status_shows_the_pool_on_postgres(postgres_url: str, pg_schema: str) -> None:
    url = with_schema(postgres_url, pg_schema)
    subprocess.run(
        [sys.executable, "-m", "skillbox_store", "--url", url, "migrate"],
        capture_output=True,
        timeout=120,
        check=True,
    )
    text = status(url)
    assert re.search(r"^server version: +\d+\.\d+$", text, re.MULTILINE), text
    assert re.search(r"^pool: +\d+ open \(\d+ in use, \d+ idle\), min \d+, max \d+$", text, re.M)
    assert re.search(r"^pool errors: +0 since open \(request 0, connect 0", text, re.M)
    document = json.loads(status(url, "--json"))
    pool = document["pool"]
    assert pool["errors"] == {"request": 0, "connect": 0, "lost": 0, "returned_bad": 0}
    assert pool["errors_total"] == 0
    assert pool["size"] >= 1
    assert pool["max_size"] >= pool["size"]
    assert pool["waiting"] == 0
    assert re.fullmatch(r"\d+\.\d+", pool["server_version"])
    assert "Pw-s3cr3t" not in text + json.dumps(document)


def test_status_has_no_pool_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    assert not re.search(r"^(pool|server version)", status(url), re.MULTILINE)
    assert json.loads(status(url, "--json"))["pool"] is None
