"""``skillbox-store copy``, ``export``, ``import``, ``tenants purge`` and ``executions prune``.

Run in a subprocess, as an operator runs them, on SQLite files and a throwaway
PostgreSQL server; what they did is checked through the library.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# tests/ is not a package: pytest puts it on sys.path.
from test_cli import failed, ok, ok_json, run_cli

from contract_tests.harness import new_key_hash
from skillbox_store import Execution, File, FileFilter, SkillRecord, Store, open_store

_OLD = datetime.now(UTC) - timedelta(days=60)


async def _seed(
    url: str, tenants: tuple[str, ...] = ("acme", "bravo"), executions: int = 3
) -> None:
    async with open_store(url) as store:
        for tenant in tenants:
            key = await store.create_key(tenant, "ci", new_key_hash())
            await store.revoke_key(tenant, key.id)
            await store.create_key(tenant, "ops", new_key_hash())
            named = None
            for number in range(executions):
                named = await store.insert_execution(
                    Execution(
                        tenant_id=tenant,
                        skill_name="s",
                        skill_version="1",
                        status="success",
                        input={"n": number},
                        finished_at=_OLD,
                    )
                )
            session = await store.get_or_create_session(tenant, "chat")
            assert named is not None
            root = await store.create_file(
                File(
                    tenant_id=tenant,
                    name="a",
                    s3_key=f"{tenant}/a1",
                    session_id=session.id,
                    execution_id=named.id,
                )
            )
            await store.create_file_version(tenant, root.id, size_bytes=1, s3_key=f"{tenant}/a2")
            await store.upsert_skill(SkillRecord(tenant_id=tenant, name="s", version="2"))
            await store.upsert_skill(SkillRecord(tenant_id=tenant, name="s", version="1"))


async def _reads(store: Store, tenant: str) -> Any:
    def dump(records: list[Any]) -> list[Any]:
        return [r.model_dump(mode="json", by_alias=True) for r in records]

    return {
        "keys": dump(await store.list_keys(tenant)),
        "executions": dump(await store.list_executions(tenant, limit=100)),
        "files": dump(await store.list_files(FileFilter(tenant_id=tenant, limit=200))),
        "skills": dump(await store.list_skills(tenant)),
        "latest": await store.resolve_latest_version(tenant, "s")
        if await store.list_skills(tenant)
        else None,
    }


def _same(first: str, second: str, tenants: tuple[str, ...] = ("acme", "bravo")) -> bool:
    async def compare() -> bool:
        async with open_store(first) as a, open_store(second) as b:
            return all([await _reads(a, t) == await _reads(b, t) for t in tenants])

    return asyncio.run(compare())


def _pg(postgres_url: str, schema: str) -> str:
    return f"{postgres_url}{'&' if '?' in postgres_url else '?'}schema={schema}"


def test_copy_sqlite_to_postgres_and_again(
    tmp_path: Path, postgres_url: str, pg_schema: str
) -> None:
    """copy moves every tenant, says it verified them, and a second run skips everything."""
    source = f"sqlite:///{tmp_path / 'src.db'}"
    asyncio.run(_seed(source))
    destination = _pg(postgres_url, pg_schema)
    out = ok(run_cli("copy", source, destination))
    assert "verified 2 tenants" in out
    assert _same(source, destination)
    again = ok_json(run_cli("copy", source, destination, "--json"))
    assert again["tables"]["executions"] == {**again["tables"]["executions"], "written": 0}
    assert again["tables"]["executions"]["skipped"] == 6
    assert sorted(again["verified"]) == ["acme", "bravo"]


def test_copy_named_tenant(tmp_path: Path) -> None:
    """--tenant copies that tenant only."""
    source, destination = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    asyncio.run(_seed(source))
    report = ok_json(run_cli("copy", source, destination, "--tenant", "bravo", "--json"))
    assert list(report["verified"]) == ["bravo"]
    assert _same(source, destination, ("bravo",))

    async def acme_keys() -> int:
        async with open_store(destination) as store:
            return len(await store.list_keys("acme"))

    assert asyncio.run(acme_keys()) == 0


def test_copy_conflict_exits_5_naming_the_record(tmp_path: Path) -> None:
    """A destination holding a record with other content stops the copy (exit 5)."""
    source, destination = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    asyncio.run(_seed(source))
    ok(run_cli("copy", source, destination))
    with closing(sqlite3.connect(tmp_path / "b.db")) as conn, conn:
        (key_id,) = conn.execute("SELECT id FROM api_keys ORDER BY seq LIMIT 1").fetchone()
        conn.execute("UPDATE api_keys SET name = 'changed' WHERE id = ?", (key_id,))
    line = failed(run_cli("copy", source, destination), 5)
    assert key_id in line


def test_copy_refuses_the_same_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    failed(run_cli("copy", url, url), 2)


def test_killed_copy_finishes_when_run_again(tmp_path: Path) -> None:
    """A copy killed with SIGKILL partway completes when run again."""
    source, destination = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    asyncio.run(_seed(source, executions=3000))
    process = subprocess.Popen(
        [sys.executable, "-m", "skillbox_store", "copy", source, destination, "--batch-size", "10"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        copied = 0
        while time.monotonic() < deadline and process.poll() is None:
            if (tmp_path / "b.db").exists():
                try:
                    with closing(sqlite3.connect(tmp_path / "b.db")) as conn:
                        copied = conn.execute("SELECT count(*) FROM executions").fetchone()[0]
                except sqlite3.OperationalError:
                    copied = 0
            if copied >= 100:
                break
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL, "the copy ended before it could be killed"
    assert 0 < copied < 6000
    report = ok_json(run_cli("copy", source, destination, "--json"))
    assert report["tables"]["executions"]["skipped"] >= copied
    assert _same(source, destination)


def test_export_import_round_trip(tmp_path: Path) -> None:
    """export > file, import < file: the same reads; importing twice writes nothing."""
    source, destination = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    asyncio.run(_seed(source))
    backup = ok(run_cli("--url", source, "export"))
    first = json.loads(backup.splitlines()[0])
    assert first == {"kind": "skillbox-store-export", "format": 1}
    assert "verified 2 tenants" in ok(run_cli("--url", destination, "import", stdin=backup))
    assert _same(source, destination)
    again = ok_json(run_cli("--url", destination, "import", "--json", stdin=backup))
    assert all(table["written"] == 0 for table in again["tables"].values())


def test_export_named_tenant_to_a_file(tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path / 'a.db'}"
    asyncio.run(_seed(source))
    target = tmp_path / "acme.jsonl"
    result = run_cli("--url", source, "export", "--tenant", "acme", "--output", str(target))
    assert ok(result) == ""
    lines = [json.loads(line) for line in target.read_text().splitlines()[1:]]
    assert {line["record"]["tenant_id"] for line in lines} == {"acme"}


def test_import_malformed_line_exits_2_with_its_number(tmp_path: Path) -> None:
    """A bad line stops the import naming its number; the lines before it are written."""
    source, destination = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    asyncio.run(_seed(source))
    lines = ok(run_cli("--url", source, "export")).splitlines(keepends=True)
    lines[3] = "{not json\n"
    line = failed(run_cli("--url", destination, "import", stdin="".join(lines)), 2)
    assert "line 4" in line

    async def written() -> int:
        async with open_store(destination) as store:
            keys = await store.list_keys("acme") + await store.list_keys("bravo")
            executions = await store.list_executions("acme")
            return len(keys) + len(executions)

    assert asyncio.run(written()) == 2


def test_tenants_purge_reports_and_requires_yes(tmp_path: Path) -> None:
    """purge refuses without --yes off a terminal; with it, removes and reports."""
    url = f"sqlite:///{tmp_path / 'a.db'}"
    asyncio.run(_seed(url))
    failed(run_cli("--url", url, "tenants", "purge", "--tenant", "acme"), 2)
    report = ok_json(
        run_cli("--url", url, "--json", "tenants", "purge", "--tenant", "acme", "--yes")
    )
    assert report == {
        "api_keys": 2,
        "executions": 3,
        "files": 2,
        "sessions": 1,
        "skills": 2,
        "s3_keys": ["acme/a1", "acme/a2"],
        "kept_referenced": 0,
    }
    text = ok(run_cli("--url", url, "tenants", "purge", "--tenant", "acme", "--yes"))
    assert "executions: 0 removed" in text
    assert _same(url, url, ("bravo",))


def test_executions_prune_older_than(tmp_path: Path) -> None:
    """prune removes old finished executions, keeping the one a file names."""
    url = f"sqlite:///{tmp_path / 'a.db'}"
    asyncio.run(_seed(url))
    kept = ok_json(
        run_cli(
            "--url", url, "--json", "executions", "prune", "--tenant", "acme", "--older-than", "90d"
        )
    )
    assert kept["executions"] == 0
    report = ok_json(
        run_cli(
            "--url", url, "--json", "executions", "prune", "--tenant", "acme", "--older-than", "30d"
        )
    )
    assert (report["executions"], report["kept_referenced"]) == (2, 1)
    text = ok(
        run_cli("--url", url, "executions", "prune", "--tenant", "acme", "--older-than", "4w")
    )
    assert "kept because a file names them: 1" in text
    failed(
        run_cli("--url", url, "executions", "prune", "--tenant", "acme", "--older-than", "30"), 2
    )
