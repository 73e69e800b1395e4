"""Opening with hostile URLs, paths and schema names: refused at once, or taken literally.

Each backend parses its own URL, so these are its own behaviour, not the contract's (the
store-level hostile input is ``input.hostile.safe``, in
``contract_tests/test_hostile_input.py``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest

from contract_tests.harness import call, new_tenant
from skillbox_store import InvalidArgumentError, Store, open_store


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "…"


OPEN_TIME_LIMIT: Final = 3.0


async def _open_refused(url: str, **options: Any) -> str | None:
    """None if opening is refused with InvalidArgumentError in time, else what happened."""
    started = time.monotonic()
    try:
        store: Store = await asyncio.wait_for(open_store(url, **options), timeout=30)
    except InvalidArgumentError:
        elapsed = time.monotonic() - started
        return None if elapsed < OPEN_TIME_LIMIT else f"refused, but after {elapsed:.1f} s"
    except TimeoutError:
        return "still opening after 30 s"
    except Exception as exc:
        return f"{type(exc).__module__}.{type(exc).__name__}: {_short(str(exc))}"
    await store.close()
    return "opened"


def _hostile_sqlite_paths(directory: Path) -> Iterator[tuple[str, str]]:
    yield "5,000-character path", f"sqlite:///{directory}/{'a' * 5000}.db"
    yield "NUL in the path", f"sqlite:///{directory}/a\x00b.db"
    yield "lone surrogate in the path", f"sqlite:///{directory}/\ud800.db"
    yield "query string", f"sqlite:///{directory}/q.db?mode=ro"
    yield "URI query string", "sqlite:///file:q.db?mode=memory&cache=shared"


def test_hostile_sqlite_urls_are_refused_at_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Paths SQLite cannot take as given are InvalidArgumentError, quickly."""
    monkeypatch.chdir(tmp_path)  # relative paths land here, if anywhere
    failures = {}
    for label, url in _hostile_sqlite_paths(tmp_path):
        outcome = asyncio.run(_open_refused(url))
        if outcome is not None:
            failures[label] = outcome
    assert not failures, failures


@pytest.mark.parametrize("path", ["file::memory:", "file:x%20y.db"])
def test_sqlite_paths_that_look_like_uris_are_literal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    """A path starting with ``file:`` is refused, or is a file of exactly that name."""
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{path}"

    async def use() -> str | None:
        outcome = await _open_refused(url)
        if outcome != "opened":
            return outcome
        tenant = new_tenant()
        async with open_store(url) as store:
            await call(store.get_or_create_session(tenant, "ext"))
        async with open_store(url) as store:
            found = await call(store.get_session_by_external_id(tenant, "ext"))
        assert found.tenant_id == tenant
        return None  # opened, and the path was taken literally (checked below)

    assert asyncio.run(use()) is None
    made = sorted(p.name for p in tmp_path.iterdir())
    assert not made or path in made, f"{url} made {made}, not {path!r}"


def _hostile_schemas() -> Iterator[tuple[str, str]]:
    yield "%s", "%s"
    yield "%(x)s", "%(x)s"
    yield "a%%b", "a%%b"
    yield "quote", 'a"b'
    yield "statement", "x; DROP SCHEMA public CASCADE; --"
    yield "64 bytes", "p" * 64
    yield "64 bytes of é", "é" * 32
    yield "pg_catalog", "pg_catalog"
    yield "information_schema", "information_schema"
    yield "pg_ prefix", "pg_mine"
    yield "empty", ""
    yield "NUL", "a\x00b"
    yield "lone surrogate", "a\ud800b"


def test_hostile_postgres_schemas_and_urls_are_refused_at_open(postgres_url: str) -> None:
    """Schema names PostgreSQL would not keep as given, and bad URLs: refused quickly."""
    failures = {}
    for label, schema in _hostile_schemas():
        outcome = asyncio.run(_open_refused(postgres_url, schema=schema))
        if outcome is not None:
            failures[f"schema {label}"] = outcome
    separator = "&" if "?" in postgres_url else "?"
    for label, url in (
        ("connect_timeout=abc", f"{postgres_url}{separator}connect_timeout=abc"),
        ("lone surrogate in the URL", f"{postgres_url}{separator}application_name=\ud800"),
        ("NUL in the URL", f"{postgres_url}{separator}application_name=a%00b"),
        ("schema %s in the URL", f"{postgres_url}{separator}schema=%25s"),
    ):
        outcome = asyncio.run(_open_refused(url))
        if outcome is not None:
            failures[label] = outcome
    assert not failures, failures
