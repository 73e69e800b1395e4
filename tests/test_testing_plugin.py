"""The pytest plugin `skillbox_store.testing`, run as a user runs it: in a test project.

Each test writes a small test module for an application, runs pytest on it with the
plugin enabled (pytester, in-process), and checks the outcome.
"""

from __future__ import annotations

import socket
import textwrap
from pathlib import Path

import psycopg
import pytest

import skillbox_store

pytest_plugins = ["pytester"]

# pytester's in-process runs drop the modules they imported when they end. This process
# has imported part of skillbox_store already (tests/conftest.py starts PostgreSQL with
# skillbox_store.testing_postgres), and the package keeps the names it imports lazily
# (`Execution`, `Store`) in its own globals: a run that imported `skillbox_store.records`
# would leave the package naming classes the next run's modules no longer use. Every
# lazy name is loaded here, before any run, so that runs import none of them.
for _name in skillbox_store.__all__:
    getattr(skillbox_store, _name)

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
        # An application's project sets it, or pytest-asyncio warns that the default
        # will change (ours is in pyproject.toml, which the test project does not see).
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


# -- a store that cannot be had: one clear error per test, and no password -----------------

_PASSWORD = "s3cret-pw"

# One test per fixture: each must fail once, at setup, and never show the password.
_EVERY_FIXTURE = """
    import pytest

    def test_url(skillbox_store_url):
        pass

    def test_runner(skillbox_store_runner):
        pass

    @pytest.mark.asyncio
    async def test_store(skillbox_store):
        pass
"""


def _refused_port() -> int:
    """A loopback port nothing listens on (free a moment ago): connecting is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _one_error_each(result: pytest.RunResult, reason: str) -> None:
    result.assert_outcomes(errors=3)
    output = result.stdout.str() + result.stderr.str()
    assert _PASSWORD not in output, output
    # At setup only: no second, raw driver error from the schema's teardown.
    assert output.count("ERROR at setup of") == 3, output
    assert "ERROR at teardown" not in output, output
    assert "Traceback" not in output, output
    assert "psycopg.OperationalError" not in output, output
    assert _error_sections(output).count(reason) == 3, output


def _error_sections(output: str) -> str:
    """The report's error sections, without pytest's closing summary.

    Whether the summary repeats each error's message depends on pytest's version (9.2
    began to): the promise is one error per test where the errors are reported.
    """
    return output.split("short test summary info")[0]


def test_an_unreachable_server_is_one_error_without_the_password(
    pytester: pytest.Pytester,
) -> None:
    """Setup fails once per test, in one line that masks the password; no teardown error."""
    _project(pytester, _EVERY_FIXTURE)
    url = f"postgresql://app:{_PASSWORD}@127.0.0.1:{_refused_port()}/db"
    result = _run(pytester, "--skillbox-store-url", url, "-p", "asyncio", "--tb=long", "-l")
    _one_error_each(result, "skillbox-store test store: cannot reach postgresql://app:***@")


def test_a_store_that_cannot_open_is_one_error_without_the_password(
    pytester: pytest.Pytester,
) -> None:
    """A URL the backend refuses fails each opening fixture once, password masked."""
    _project(
        pytester,
        """
        import pytest

        def test_runner(skillbox_store_runner):
            pass

        @pytest.mark.asyncio
        async def test_store(skillbox_store):
            pass

        def test_a_runner_that_cannot_open_closes_its_loop(monkeypatch):
            import asyncio

            from skillbox_store.testing import StoreRunner

            closed = []
            close = asyncio.Runner.close
            monkeypatch.setattr(
                asyncio.Runner, "close", lambda runner: closed.append(close(runner))
            )
            with pytest.raises(Exception, match="memory store URL"):
                StoreRunner("memory://nowhere")
            assert closed == [None]
        """,
    )
    url = f"memory://app:{_PASSWORD}@host?password={_PASSWORD}"
    result = _run(pytester, "--skillbox-store-url", url, "-p", "asyncio", "--tb=long", "-l")
    result.assert_outcomes(errors=2, passed=1)
    output = result.stdout.str() + result.stderr.str()
    assert _PASSWORD not in output, output
    reason = "skillbox-store test store: cannot open memory://app:***@"
    assert _error_sections(output).count(reason) == 2, output
    assert "InvalidArgumentError" in output, output
    assert "Traceback" not in output, output


def test_a_failing_test_shows_the_url_masked(pytester: pytest.Pytester) -> None:
    """pytest prints a failing test's arguments: the URL's repr hides its password.

    (An assertion that compares the URL itself still shows a diff of its text: the test
    asked for it.)
    """
    _project(
        pytester,
        f"""
        def test_fails(skillbox_store_url):
            assert not "the test's own failure"

        def test_is_the_url(skillbox_store_url):
            assert skillbox_store_url == "broken-none://u:{_PASSWORD}@host"
            assert str(skillbox_store_url) == skillbox_store_url
        """,
    )
    # A scheme no backend serves: the plugin hands third-party URLs out as given.
    url = f"broken-none://u:{_PASSWORD}@host"
    result = _run(pytester, "--skillbox-store-url", url, "--tb=long")
    result.assert_outcomes(failed=1, passed=1)
    output = result.stdout.str()
    assert _PASSWORD not in output, output
    assert "broken-none://u:***@host" in output, output
