"""Copy, export and import between stores (`skillbox_store.transfer`), on every backend.

The round trip memory → SQLite file → PostgreSQL → export → import into memory must
end with every contract read equal to the start; an interrupted copy finishes when run
again; a conflicting destination stops with nothing after the conflict written.
"""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from contract_tests.harness import new_key_hash
from skillbox_store import (
    ConflictError,
    Execution,
    File,
    FileFilter,
    InvalidArgumentError,
    NotFoundError,
    SkillRecord,
    Store,
    open_store,
)
from skillbox_store.bulk import BULK_TABLES, StoreBulk, record_key
from skillbox_store.capabilities import BULK, supports
from skillbox_store.transfer import (
    VerificationError,
    copy_store,
    export_store,
    import_records,
)

_TENANTS = ("acme", "bravo", "charlie")
_T0 = datetime(2024, 1, 1, tzinfo=UTC)


async def _seed(store: Store, tenant: str, size: int = 3) -> None:
    """Keys (one revoked), executions of every status, chains, sessions, skills."""
    for number in range(size):
        key = await store.create_key(tenant, f"key {number}", new_key_hash())
        if number % 2:
            await store.revoke_key(tenant, key.id)
    executions = []
    for number, status in enumerate(("success", "failed", "timeout", "mounted", "running")):
        executions.append(
            await store.insert_execution(
                Execution(
                    tenant_id=tenant,
                    skill_name=f"skill-{number % 2}",
                    skill_version="1.0",
                    status=status,  # type: ignore[arg-type]
                    input={"n": number, "nested": {"b": [1, 2.5, None], "a": "é"}},
                    output=[number, "out"] if status != "running" else None,
                    logs="line\n" * number,
                    files_list=[f"f{number}.txt"],
                    duration_ms=number * 10,
                    error="boom" if status == "failed" else None,
                    finished_at=None if status == "running" else _T0 + timedelta(minutes=number),
                )
            )
        )
    session = await store.get_or_create_session(tenant, "chat-1")
    await store.get_or_create_session(tenant, "chat-2")
    for chain in range(size):
        root = await store.create_file(
            File(
                tenant_id=tenant,
                name=f"doc{chain}.txt",
                s3_key=f"{tenant}/doc{chain}/1",
                session_id=session.id if chain % 2 == 0 else None,
                execution_id=executions[chain % len(executions)].id,
                content_type="text/plain",
                size_bytes=chain,
            )
        )
        for version in range(2, 2 + chain + 1):
            await store.create_file_version(
                tenant, root.id, size_bytes=version, s3_key=f"{tenant}/doc{chain}/{version}"
            )
    # Uploaded out of name order, and one re-uploaded: the latest is by upload order.
    for skill_version in ("2.0", "1.0", "1.5"):
        await store.upsert_skill(SkillRecord(tenant_id=tenant, name="tool", version=skill_version))
    await store.upsert_skill(
        SkillRecord(tenant_id=tenant, name="tool", version="2.0", description="again")
    )
    await store.upsert_skill(SkillRecord(tenant_id=tenant, name="other", version="0.1", lang="go"))


async def _reads(store: Store, tenants: tuple[str, ...] = _TENANTS) -> dict[str, Any]:
    """Every contract read of the tenants, as JSON: what must survive a copy."""

    def dump(records: list[Any]) -> list[Any]:
        return [r.model_dump(mode="json", by_alias=True) for r in records]

    reads: dict[str, Any] = {}
    for tenant in tenants:
        keys = await store.list_keys(tenant)
        executions = await store.list_executions(tenant, limit=100)
        files = await store.list_files(FileFilter(tenant_id=tenant, limit=200))
        sessions = [
            await store.get_session_by_external_id(tenant, external)
            for external in ("chat-1", "chat-2")
        ]
        reads[tenant] = {
            "keys": dump(keys),
            "valid": [(await store.validate_key(k.key_hash)) is not None for k in keys],
            "executions": dump(executions),
            "executions page 2": dump(await store.list_executions(tenant, limit=2, offset=2)),
            "files": dump(files),
            "versions": [dump(await store.list_file_versions(tenant, f.id)) for f in files],
            "by execution": [
                dump(await store.list_files(FileFilter(tenant_id=tenant, execution_id=e.id)))
                for e in executions
            ],
            "session files": [dump(await store.list_session_files(tenant, s.id)) for s in sessions],
            "sessions": dump(sessions),
            "skills": dump(await store.list_skills(tenant)),
            "latest": [await store.resolve_latest_version(tenant, n) for n in ("tool", "other")],
        }
    return reads


@pytest.fixture
def pg_url(postgres_url: str, pg_schema: str) -> str:
    """A PostgreSQL store URL on a schema of its own, so the store starts empty."""
    return f"{postgres_url}{'&' if '?' in postgres_url else '?'}schema={pg_schema}"


@pytest.mark.parametrize("url", ["memory://", "sqlite-file", "postgres"])
def test_every_builtin_backend_offers_bulk(url: str, tmp_path: Path, pg_url: str) -> None:
    """memory, SQLite and PostgreSQL declare and implement the bulk capability."""
    url = {"sqlite-file": f"sqlite:///{tmp_path}/a.db", "postgres": pg_url}.get(url, url)

    async def check() -> None:
        async with open_store(url) as store:
            assert supports(store, BULK)
            assert isinstance(store, StoreBulk)

    asyncio.run(check())


def test_round_trip_keeps_every_read(tmp_path: Path, pg_url: str) -> None:
    """memory → SQLite file → PostgreSQL → export → import into memory changes no read."""

    async def trip() -> None:
        async with open_store("memory://") as start:
            for tenant in _TENANTS:
                await _seed(start, tenant)
            expected = await _reads(start)
            async with open_store(f"sqlite:///{tmp_path}/copy.db") as sqlite:
                report = await copy_store(start, sqlite)
                assert sorted(report.verified) == sorted(_TENANTS)
                assert await _reads(sqlite) == expected
                async with open_store(pg_url) as postgres:
                    await copy_store(sqlite, postgres)
                    assert await _reads(postgres) == expected
                    out = io.StringIO()
                    exported = await export_store(postgres, out)
            async with open_store("memory://") as end:
                imported = await import_records(end, io.StringIO(out.getvalue()))
                assert imported.verified == exported.verified
                assert await _reads(end) == expected

    asyncio.run(trip())


def test_copy_named_tenants_only(tmp_path: Path) -> None:
    """--tenant copies those tenants and nothing of the others."""

    async def copy() -> None:
        async with open_store("memory://") as src, open_store("memory://") as dst:
            for tenant in _TENANTS:
                await _seed(src, tenant)
            report = await copy_store(src, dst, tenants=["bravo"])
            assert list(report.verified) == ["bravo"]
            assert await _reads(dst, ("bravo",)) == await _reads(src, ("bravo",))
            assert await dst.list_keys("acme") == []

    asyncio.run(copy())


async def _interrupted(src: Store, dst: Store, after_batches: int) -> None:
    """Run a copy with small batches and cancel it after some batches were written."""
    written = 0
    done = asyncio.Event()

    def on_progress(_: Any) -> None:
        nonlocal written
        written += 1
        if written >= after_batches:
            done.set()

    task = asyncio.ensure_future(copy_store(src, dst, batch_size=2, on_progress=on_progress))
    await done.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.mark.parametrize("destination", ["sqlite-file", "postgres"])
def test_interrupted_copy_finishes_when_run_again(
    destination: str, tmp_path: Path, pg_url: str
) -> None:
    """A copy killed partway leaves whole batches; running it again completes it."""
    url = f"sqlite:///{tmp_path}/dst.db" if destination == "sqlite-file" else pg_url

    async def copy() -> None:
        async with open_store("memory://") as src:
            for tenant in _TENANTS:
                await _seed(src, tenant)
            async with open_store(url) as dst:
                await _interrupted(src, dst, after_batches=4)
                partial = sum([len(await dst.list_keys(t)) for t in _TENANTS])
                assert 0 < partial < 3 * len(_TENANTS)
                assert await dst.list_executions("acme") == []
                report = await copy_store(src, dst)
                assert report.tables["api_keys"].skipped == partial
                assert await _reads(dst) == await _reads(src)

    asyncio.run(copy())


def test_conflicting_destination_stops_at_the_conflict(tmp_path: Path) -> None:
    """A record stored with other content stops the copy; nothing after it is written."""

    async def copy() -> None:
        async with (
            open_store("memory://") as src,
            open_store(f"sqlite:///{tmp_path}/dst.db") as dst,
        ):
            for tenant in _TENANTS:
                await _seed(src, tenant)
            assert isinstance(src, StoreBulk)
            assert isinstance(dst, StoreBulk)
            # The destination holds bravo's second execution already, with other logs.
            async with src.bulk_snapshot() as reader:
                batches = [b async for b in reader.records("executions", ["bravo"])]
            executions = [e for e in batches[0] if isinstance(e, Execution)]
            await dst.bulk_insert("executions", "bravo", executions[:1])
            changed = executions[1].model_copy(update={"logs": "tampered"})
            await dst.bulk_insert("executions", "bravo", [changed])
            with pytest.raises(ConflictError, match=executions[1].id):
                await copy_store(src, dst, batch_size=100)
            # acme's executions (before bravo's) were written; bravo's third was not,
            # nor any table after executions.
            assert len(await dst.list_executions("acme")) == 5
            ids = [e.id for e in await dst.list_executions("bravo")]
            assert ids == [executions[1].id, executions[0].id]
            assert await dst.list_executions("charlie") == []
            assert await dst.list_files(FileFilter(tenant_id="acme")) == []
            assert await dst.list_skills("acme") == []

    asyncio.run(copy())


def test_import_stops_at_a_malformed_line() -> None:
    """A bad line stops the import naming its number; lines before it are written."""

    async def run() -> None:
        async with open_store("memory://") as src, open_store("memory://") as dst:
            await _seed(src, "acme")
            out = io.StringIO()
            await export_store(src, out)
            lines = out.getvalue().splitlines(keepends=True)
            # Header, 3 keys, then the first execution: break the second key.
            lines[2] = '{"kind": "api_key", "record": {"id": 1}}\n'
            with pytest.raises(InvalidArgumentError, match="line 3"):
                await import_records(dst, lines)
            assert len(await dst.list_keys("acme")) == 1
            assert await dst.list_executions("acme") == []

    asyncio.run(run())


def test_export_lines_are_go_json_with_a_kind() -> None:
    """Each line is {"kind", "record"} with the record's Go JSON; the first is a header."""

    async def run() -> None:
        async with open_store("memory://") as src:
            await _seed(src, "acme")
            out = io.StringIO()
            report = await export_store(src, out)
        lines = [json.loads(line) for line in out.getvalue().splitlines()]
        assert lines[0] == {"kind": "skillbox-store-export", "format": 1}
        kinds = [line["kind"] for line in lines[1:]]
        assert kinds == sorted(
            kinds, key=["api_key", "execution", "file", "session", "skill"].index
        )
        execution = next(line["record"] for line in lines if line["kind"] == "execution")
        assert "execution_id" in execution
        assert "error" in execution
        assert sum(p.written for p in report.tables.values()) == len(lines) - 1

    asyncio.run(run())


def test_import_twice_skips_everything_and_detects_tampering() -> None:
    """Importing the same export again writes nothing; a changed line is a conflict."""

    async def run() -> None:
        async with open_store("memory://") as src, open_store("memory://") as dst:
            await _seed(src, "acme")
            out = io.StringIO()
            await export_store(src, out)
            text = out.getvalue()
            await import_records(dst, io.StringIO(text))
            again = await import_records(dst, io.StringIO(text))
            assert sum(p.written for p in again.tables.values()) == 0
            tampered = text.replace('"name":"key 0"', '"name":"key zero"')
            with pytest.raises(ConflictError, match="api_key"):
                await import_records(dst, io.StringIO(tampered))

    asyncio.run(run())


def test_verification_fails_when_destination_has_more() -> None:
    """A destination tenant with records the source lacks fails verification."""

    async def run() -> None:
        async with open_store("memory://") as src, open_store("memory://") as dst:
            await _seed(src, "acme")
            await dst.create_key("acme", "extra", new_key_hash())
            with pytest.raises(VerificationError, match="api_keys"):
                await copy_store(src, dst)

    asyncio.run(run())


def test_store_without_bulk_is_refused() -> None:
    """A store that does not declare bulk is InvalidArgumentError before anything is read."""

    class Plain:
        pass

    async def run() -> None:
        async with open_store("memory://") as dst:
            with pytest.raises(InvalidArgumentError, match="source"):
                await copy_store(Plain(), dst)

    asyncio.run(run())


def test_bulk_reads_are_per_tenant_batches_in_order() -> None:
    """Batches hold one tenant each, bounded by batch_size, in creation order."""

    async def run() -> None:
        async with open_store("memory://") as src:
            for tenant in _TENANTS:
                await _seed(src, tenant)
            assert isinstance(src, StoreBulk)
            async with src.bulk_snapshot() as reader:
                assert await reader.tenants() == sorted(_TENANTS)
                for table in BULK_TABLES:
                    async for batch in reader.records(table, None, 2):
                        assert 0 < len(batch) <= 2
                        assert len({r.tenant_id for r in batch}) == 1
                batches = [b async for b in reader.records("executions", ["acme"], 100)]
            newest_first = [e.id for e in await src.list_executions("acme")]
            assert [record_key(e)[0] for e in batches[0]] == newest_first[::-1]

    asyncio.run(run())


def test_missing_tenant_is_not_found_nowhere() -> None:
    """Copying a tenant that has nothing copies nothing and verifies empty tables."""

    async def run() -> None:
        async with open_store("memory://") as src, open_store("memory://") as dst:
            report = await copy_store(src, dst, tenants=["ghost"])
            assert report.verified["ghost"]["executions"][0] == 0
            with pytest.raises(NotFoundError):
                await dst.get_session_by_external_id("ghost", "chat-1")

    asyncio.run(run())


@pytest.mark.parametrize("backend", ["sqlite-file", "postgres"])
def test_snapshot_does_not_see_later_writes(backend: str, tmp_path: Path, pg_url: str) -> None:
    """A write committed while a snapshot is open is not in it; writers are not blocked."""
    url = f"sqlite:///{tmp_path}/s.db" if backend == "sqlite-file" else pg_url

    async def run() -> None:
        async with open_store(url) as store:
            assert isinstance(store, StoreBulk)
            await _seed(store, "acme")
            async with store.bulk_snapshot() as reader:
                before = await reader.tenants()
                late = await store.create_execution(
                    Execution(tenant_id="zulu", skill_name="s", skill_version="1")
                )
                await store.create_key("acme", "late", new_key_hash())
                assert await reader.tenants() == before == ["acme"]
                keys = [k async for batch in reader.records("api_keys") for k in batch]
                executions = [e async for b in reader.records("executions", ["zulu"]) for e in b]
            assert len(keys) == 3
            assert executions == []
            assert await store.get_execution("zulu", late.id) == late

    asyncio.run(run())


# -- issue 18: what a new user met ---------------------------------------------------------


class _CountingBulk:
    """A bulk destination that counts the batches written into it (one write each)."""

    capabilities = frozenset({BULK})

    def __init__(self, inner: StoreBulk) -> None:
        self.inner = inner
        self.batches = 0

    def bulk_snapshot(self) -> Any:
        return self.inner.bulk_snapshot()

    async def bulk_find(self, table: str, tenant_id: str, records: Any) -> Any:
        return await self.inner.bulk_find(table, tenant_id, records)

    async def bulk_insert(self, table: str, tenant_id: str, records: Any) -> None:
        self.batches += 1
        await self.inner.bulk_insert(table, tenant_id, records)


def test_import_batches_alternating_tenants_together() -> None:
    """Lines that alternate tenants cost the batches of a grouped file, not one each.

    Before issue 18 each run of one tenant was its own batch: 200 alternating lines
    were 200 writes (and 30,000 took 8.3 s against 2.2 s grouped).
    """

    async def run() -> None:
        async with open_store("memory://") as src, open_store("memory://") as dst:
            for tenant in ("acme", "bravo"):
                for number in range(100):
                    await src.insert_execution(
                        Execution(tenant_id=tenant, skill_name="s", skill_version="1", input=number)
                    )
            out = io.StringIO()
            await export_store(src, out)
            header, *records = out.getvalue().splitlines(keepends=True)
            acme = [line for line in records if '"tenant_id":"acme"' in line]
            bravo = [line for line in records if '"tenant_id":"bravo"' in line]
            alternating = [line for pair in zip(acme, bravo, strict=True) for line in pair]
            assert isinstance(dst, StoreBulk)
            counting = _CountingBulk(dst)
            report = await import_records(counting, [header, *alternating], batch_size=50)
            # 200 records, windows of 50, two tenants per window: 8 writes.
            assert counting.batches == 8
            assert report.tables["executions"].written == 200
            assert await _reads_executions(dst) == await _reads_executions(src)

    async def _reads_executions(store: Store) -> list[Any]:
        return [
            [e.model_dump(mode="json") for e in await store.list_executions(t, limit=100)]
            for t in ("acme", "bravo")
        ]

    asyncio.run(run())


def test_verification_error_carries_the_report_and_says_why() -> None:
    """A failed check still tells what was written, and that the destination had more."""

    async def run() -> None:
        async with open_store("memory://") as src, open_store("memory://") as dst:
            await _seed(src, "acme")
            await dst.create_key("acme", "extra", new_key_hash())
            with pytest.raises(VerificationError) as failed:
                await copy_store(src, dst)
        report = failed.value.report
        assert report is not None
        assert report.tables["api_keys"].written == 3
        assert report.tables["executions"].written == 5
        message = str(failed.value)
        assert "the destination holds 1 more of this tenant's records" in message
        assert "never deletes" in message

    asyncio.run(run())


def test_import_report_lists_every_table_even_empty_ones() -> None:
    """import reports all five tables, as copy and export do, zeros included."""

    async def run() -> None:
        async with open_store("memory://") as src, open_store("memory://") as dst:
            await src.create_key("acme", "ci", new_key_hash())
            out = io.StringIO()
            await export_store(src, out)
            report = await import_records(dst, io.StringIO(out.getvalue()))
        assert list(report.tables) == list(BULK_TABLES)
        assert report.tables["api_keys"].written == 1
        assert all(report.tables[t].records == 0 for t in BULK_TABLES if t != "api_keys")

    asyncio.run(run())


def test_a_bad_record_is_one_clean_clause_per_field() -> None:
    """Pydantic's multi-line text and its "For further information" links are gone."""

    async def run() -> None:
        async with open_store("memory://") as dst:
            line = json.dumps({"kind": "api_key", "record": {"id": 1, "tenant_id": 5, "name": []}})
            with pytest.raises(InvalidArgumentError) as failed:
                await import_records(dst, [line])
        message = str(failed.value)
        assert "\n" not in message
        assert "For further information" not in message
        assert "errors.pydantic.dev" not in message
        assert message.startswith("line 1: APIKey record: ")
        for field in ("id", "tenant_id", "name", "key_hash"):
            assert f"{field}: " in message

    asyncio.run(run())
