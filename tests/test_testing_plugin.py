"""The pytest plugin `skillbox_store.testing`, run as a user runs it: in a test project.

Each test writes a small test module for an application, runs pytest on it with the
plugin enabled (pytester, in-process), and checks the outcome.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import psycopg
import pytest

pytest_plugins = ["pytester"]

_CONFTEST = 'pytest_plugins = ["skillbox_store.testing"]\n'

# Two tests that pass only if each gets its own empty store; they record the URL.
_FRESH_PER_TEST = """
    from pathlib import Path

    from skillbox_store.testing import add_tenant_with_key

    def test_one(skillbox_store_runner):
        runner = skillbox_store_runner
        Path("urls.txt").open("a").write(runner.url + "\\n")
        runner.run(add_tenant_with_key(runner.store, "acme"))
        assert len(runner.run(runner.store.list_keys("acme"))) == 1

    def test_two(skillbox_store_runner):
        runner = skillbox_store_runner
        Path("urls.txt").open("a").write(runner.url + "\\n")
        assert runner.run(runner.store.list_keys("acme")) == []
"""


def _project(pytester: pytest.Pytester, tests: str) -> None:
    pytester.makeconftest(_CONFTEST)
    pytester.makepyfile(test_app=textwrap.dedent(tests))


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Run pytest in the test project; pytest-asyncio, when loaded, told its loop scope."""
    options = ["-p", "no:cacheprovider", *args]
    if "no:asyncio" not in args:
        # Else pytest-asyncio warns that the default will change.
        options += ["-o", "asyncio_default_fixture_loop_scope=function"]
    return pytester.runpytest(*options)


def _urls(pytester: pytest.Pytester) -> list[str]:
    return (pytester.path / "urls.txt").read_text().split()


def test_a_sync_test_gets_a_fresh_memory_store_by_default(pytester: pytest.Pytester) -> None:
    _project(pytester, _FRESH_PER_TEST)
    result = _run(pytester)
    result.assert_outcomes(passed=2)
    assert _urls(pytester) == ["memory://", "memory://"]
    result.stdout.fnmatch_lines(["skillbox-store test store: memory://"])


def test_the_async_fixture_under_pytest_asyncio(pytester: pytest.Pytester) -> None:
    _project(
        pytester,
        """
        import pytest

        from skillbox_store import Store, hash_key
        from skillbox_store.testing import (
            add_execution,
            add_session_with_files,
            add_tenant_with_key,
        )

        @pytest.mark.asyncio
        async def test_the_helpers(skillbox_store):
            assert isinstance(skillbox_store, Store)
            tenant = await add_tenant_with_key(skillbox_store)
            valid = await skillbox_store.validate_key(hash_key(tenant.plaintext))
            assert valid == tenant.key
            execution = await add_execution(skillbox_store, tenant.tenant_id)
            assert execution.status == "running"
            done = await add_execution(skillbox_store, tenant.tenant_id, status="success")
            assert done.status == "success"
            session, files = await add_session_with_files(skillbox_store, tenant.tenant_id)
            assert [f.name for f in files] == ["a.txt", "b.txt"]
            listed = await skillbox_store.list_session_files(tenant.tenant_id, session.id)
            assert {f.id for f in listed} == {f.id for f in files}

        @pytest.mark.asyncio
        async def test_empty_again(skillbox_store):
            assert await skillbox_store.list_executions("acme") == []
        """,
    )
    result = _run(pytester, "-p", "asyncio")
    result.assert_outcomes(passed=2)


def test_the_async_fixture_under_anyio(pytester: pytest.Pytester) -> None:
    _project(
        pytester,
        """
        import pytest

        from skillbox_store.testing import add_tenant_with_key

        @pytest.fixture
        def anyio_backend():
            return "asyncio"

        @pytest.mark.anyio
        async def test_keys(skillbox_store):
            await add_tenant_with_key(skillbox_store, "acme")
            assert len(await skillbox_store.list_keys("acme")) == 1
        """,
    )
    # Without pytest-asyncio, which would otherwise run the fixture on its own loop.
    result = _run(pytester, "-p", "no:asyncio")
    result.assert_outcomes(passed=1)


def test_sqlite_gives_a_new_file_per_test(pytester: pytest.Pytester) -> None:
    _project(pytester, _FRESH_PER_TEST)
    result = _run(pytester, "--skillbox-store-url", "sqlite:///ignored.db")
    result.assert_outcomes(passed=2)
    first, second = _urls(pytester)
    assert first != second
    for url in (first, second):
        assert url.startswith("sqlite:///")
        assert url.endswith("/skillbox.db")
    assert not (pytester.path / "ignored.db").exists()


def test_the_environment_variable_names_the_store(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SKILLBOX_STORE_TEST_URL", "sqlite:///:memory:")
    _project(pytester, _FRESH_PER_TEST)
    _run(pytester).assert_outcomes(passed=2)
    assert _urls(pytester) == ["sqlite:///:memory:", "sqlite:///:memory:"]


def _schema_exists(server: str, schema: str) -> bool:
    with psycopg.connect(server, autocommit=True) as conn:
        found = conn.execute(
            "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (schema,)
        ).fetchone()
    return found is not None


@pytest.mark.postgres
def test_postgres_gives_a_new_schema_per_test_dropped_after(
    pytester: pytest.Pytester, postgres_url: str
) -> None:
    _project(pytester, _FRESH_PER_TEST)
    result = _run(pytester, "--skillbox-store-url", postgres_url)
    result.assert_outcomes(passed=2)
    schemas = [url.rsplit("schema=", 1)[1] for url in _urls(pytester)]
    assert len(set(schemas)) == 2
    assert all(schema.startswith("skillbox_test_") for schema in schemas)
    assert not any(_schema_exists(postgres_url, schema) for schema in schemas)


@pytest.mark.postgres
def test_the_throwaway_postgres_server(pytester: pytest.Pytester, postgres_url: str) -> None:
    # postgres_url first: the throwaway cluster is one per process, so the inner run
    # reuses the one this session started instead of starting its own.
    _project(pytester, _FRESH_PER_TEST)
    result = _run(pytester, "--skillbox-store-url", "postgresql+throwaway://")
    result.assert_outcomes(passed=2)
    assert all(url.startswith(postgres_url.split("?")[0]) for url in _urls(pytester))


def test_the_documented_example_passes(pytester: pytest.Pytester) -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "testing.md").read_text()
    section = doc.split("## An application test", 1)[1]
    example = section.split("```python\n", 1)[1].split("```", 1)[0]
    pytester.makeconftest(_CONFTEST)
    pytester.makepyfile(test_example=example)
    _run(pytester).assert_outcomes(passed=1)
