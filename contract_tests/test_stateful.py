"""Model-based stateful test: random sequences over two tenants, checked after every step.

Each rule acts on the store and on the plain-dict `Model` (see `operations`); the
invariant then compares whole per-tenant listings, every key, chain, session and skill
with the model (see `checks`). One `asyncio.Runner` per machine run drives the store.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

from hypothesis import Phase, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from skillbox_store import FileFilter, Store

from . import checks
from . import operations as ops
from .harness import Harness, call, new_tenant
from .model import Model, Row
from .operations import Context, Operation
from .profiles import ACTIVE, STATEFUL_SHRINK_SECONDS


class _Rollback(Exception):
    """Raised inside a transaction's block to make it roll back."""


class StoreMachine(RuleBasedStateMachine):
    """Random operations on a store opened by URL, against the model."""

    url: ClassVar[str] = ""

    def __init__(self) -> None:
        """Open the store on this run's own loop; the run's tenants are brand new."""
        super().__init__()
        self.tenants = [new_tenant(), new_tenant()]
        self.model = Model.with_tenants(self.tenants)
        # Hashes of keys created in blocks that rolled back: they must stay unknown.
        self.rolled_back_hashes: list[str] = []
        self.harness = Harness(self.url)
        try:
            self.store = self.harness.open()
        except BaseException:
            self.harness.close()
            raise

    def teardown(self) -> None:
        """Close the store and the loop."""
        self.harness.close()

    def _act(self, operation: Operation, data: st.DataObject) -> None:
        self.harness.run(operation(Context(self.store, self.model, data)))

    # -- One rule per operation -------------------------------------------------------

    @rule(data=st.data())
    def create_key(self, data: st.DataObject) -> None:
        """Create a key."""
        self._act(ops.create_key, data)

    @rule(data=st.data())
    def create_duplicate_key(self, data: st.DataObject) -> None:
        """Create a key with a hash that exists."""
        self._act(ops.create_duplicate_key, data)

    @rule(data=st.data())
    def revoke_key(self, data: st.DataObject) -> None:
        """Revoke a key, maybe again, maybe as another tenant."""
        self._act(ops.revoke_key, data)

    @rule(data=st.data())
    def add_execution(self, data: st.DataObject) -> None:
        """Create or insert an execution."""
        self._act(ops.add_execution, data)

    @rule(data=st.data())
    def update_execution(self, data: st.DataObject) -> None:
        """Finish an execution, maybe twice, maybe as another tenant."""
        self._act(ops.update_execution, data)

    @rule(data=st.data())
    def create_file(self, data: st.DataObject) -> None:
        """Create a file, maybe in a chain."""
        self._act(ops.create_file, data)

    @rule(data=st.data())
    def append_versions(self, data: st.DataObject) -> None:
        """Append versions to a chain."""
        self._act(ops.append_versions, data)

    @rule(data=st.data())
    def update_file(self, data: st.DataObject) -> None:
        """Update a file, maybe its version."""
        self._act(ops.update_file, data)

    @rule(data=st.data())
    def delete_file(self, data: st.DataObject) -> None:
        """Delete a file."""
        self._act(ops.delete_file, data)

    @rule(data=st.data())
    def get_or_create_session(self, data: st.DataObject) -> None:
        """Get or create a session."""
        self._act(ops.get_or_create_session, data)

    @rule(data=st.data())
    def touch_session(self, data: st.DataObject) -> None:
        """Touch a session."""
        self._act(ops.touch_session, data)

    @rule(data=st.data())
    def delete_session(self, data: st.DataObject) -> None:
        """Delete a session."""
        self._act(ops.delete_session, data)

    @rule(data=st.data())
    def upsert_skill(self, data: st.DataObject) -> None:
        """Upsert a skill version."""
        self._act(ops.upsert_skill, data)

    @rule(data=st.data())
    def delete_skill(self, data: st.DataObject) -> None:
        """Delete a skill version."""
        self._act(ops.delete_skill, data)

    @rule(data=st.data())
    def read_as_other_tenant(self, data: st.DataObject) -> None:
        """Read a record as a tenant that does not own it."""
        self._act(ops.read_as_other_tenant, data)

    # -- Listings ---------------------------------------------------------------------

    @rule(data=st.data(), limit=st.integers(min_value=1, max_value=4))
    def page_through(self, data: st.DataObject, limit: int) -> None:
        """Paging yields every execution and file exactly once, newest first."""
        tenant = data.draw(st.sampled_from(self.tenants), label="tenant")
        note(f"page through {tenant!r} by {limit}")
        self.harness.run(self._page_through(tenant, limit))

    async def _page_through(self, tenant: str, limit: int) -> None:
        executions: list[Row] = []
        expected: list[Row]
        while True:
            page = await call(self.store.list_executions(tenant, limit, len(executions)))
            assert len(page) <= limit
            executions += [e.model_dump() for e in page]
            if len(page) < limit:
                break
        expected = list(reversed(self.model[tenant].executions.values()))
        assert executions == expected, f"paging through list_executions({tenant!r})"
        files: list[Row] = []
        while True:
            wanted = FileFilter(tenant_id=tenant, limit=limit, offset=len(files))
            file_page = await call(self.store.list_files(wanted))
            assert len(file_page) <= limit
            files += [f.model_dump() for f in file_page]
            if len(file_page) < limit:
                break
        expected = list(reversed(self.model[tenant].files.values()))
        assert files == expected, f"paging through list_files({tenant!r})"

    @rule(data=st.data())
    def list_filtered_files(self, data: st.DataObject) -> None:
        """list_files filters by session and execution; list_session_files has no cap."""
        tenant = data.draw(st.sampled_from(self.tenants), label="tenant")
        files = list(reversed(self.model[tenant].files.values()))
        session_ids = sorted({f["session_id"] for f in files if f["session_id"]})
        session_ids += [s["id"] for s in self.model[tenant].sessions.values()]
        session_id = data.draw(st.sampled_from([None, *session_ids]), label="session_id")
        execution_ids = list(self.model[tenant].executions)
        execution_id = data.draw(st.sampled_from([None, *execution_ids]), label="execution_id")
        limit = data.draw(st.integers(min_value=1, max_value=5), label="limit")
        offset = data.draw(st.integers(min_value=0, max_value=5), label="offset")
        wanted = FileFilter(
            tenant_id=tenant,
            session_id=session_id,
            execution_id=execution_id,
            limit=limit,
            offset=offset,
        )
        note(f"list_files({wanted})")
        expected = [
            f
            for f in files
            if session_id in (None, f["session_id"]) and execution_id in (None, f["execution_id"])
        ]
        listed = self.harness.run(call(self.store.list_files(wanted)))
        assert [f.model_dump() for f in listed] == expected[offset : offset + limit]
        if session_id is not None:
            of_session = self.harness.run(call(self.store.list_session_files(tenant, session_id)))
            mine = [f for f in files if f["session_id"] == session_id]
            assert [f.model_dump() for f in of_session] == mine

    # -- Transactions -----------------------------------------------------------------

    @rule(
        data=st.data(),
        steps=st.integers(min_value=1, max_value=3),
        outer=st.sampled_from(["commit", "raise"]),
        nested=st.sampled_from(["none", "commit", "raise"]),
    )
    def transaction(self, data: st.DataObject, steps: int, outer: str, nested: str) -> None:
        """A block commits entirely or leaves no trace; a nested block rolls back alone."""
        note(f"transaction: {steps} steps, nested {nested}, then {outer}")
        scratch = self.harness.run(self._transaction(data, steps, outer, nested))
        if scratch is not None:
            self.model = scratch

    async def _transaction(
        self, data: st.DataObject, steps: int, outer: str, nested: str
    ) -> Model | None:
        scratch = self.model.copy()
        try:
            async with self.store.transaction() as tx:
                await self._run_safe(tx, scratch, data, steps)
                if nested != "none":
                    inner = scratch.copy()
                    try:
                        async with tx.transaction() as inner_tx:
                            await self._run_safe(inner_tx, inner, data, steps)
                            await self._check_views(inner_tx, inner)
                            if nested == "raise":
                                self._forget(inner, scratch)
                                raise _Rollback
                        scratch = inner
                    except _Rollback:
                        note("nested block rolled back")
                # Inside the block, the transaction sees its own writes (and only the
                # nested block's that committed).
                await self._check_views(tx, scratch)
                if outer == "raise":
                    self._forget(scratch, self.model)
                    raise _Rollback
        except _Rollback:
            note("transaction rolled back")
            return None
        note("transaction committed")
        return scratch

    async def _run_safe(self, store: Store, model: Model, data: st.DataObject, steps: int) -> None:
        for _ in range(steps):
            operation = data.draw(st.sampled_from(ops.SAFE_OPERATIONS), label="operation")
            await operation(Context(store, model, data, safe=True))

    def _forget(self, dropped: Model, kept: Model) -> None:
        """Remember the hashes of keys that a rolled-back block created."""
        kept_hashes = {k["key_hash"] for k in kept.all_keys()}
        self.rolled_back_hashes += [
            k["key_hash"] for k in dropped.all_keys() if k["key_hash"] not in kept_hashes
        ]

    async def _check_views(self, store: Store, model: Model) -> None:
        for tenant in self.tenants:
            await checks.check_listings(store, model, tenant)

    # -- After every step -------------------------------------------------------------

    @invariant()
    def store_matches_model(self) -> None:
        """Everything the store shows, tenant by tenant, is what the model holds."""
        self.harness.run(self._store_matches_model())

    async def _store_matches_model(self) -> None:
        for tenant in self.tenants:
            await checks.check_listings(self.store, self.model, tenant)
            await checks.check_chains(self.store, self.model, tenant)
            await checks.check_sessions(self.store, self.model, tenant)
            await checks.check_skills(self.store, self.model, tenant)
        await checks.check_keys(self.store, self.model)
        await checks.check_gone_keys(self.store, self.rolled_back_hashes)


_SHRINK_BOUND = "MAX_SHRINKING_SECONDS"


@contextmanager
def _shrink_time_bound(seconds: float | None) -> Iterator[None]:
    """Bound Hypothesis's shrinking of a failure to ``seconds`` (None: its own bound).

    Hypothesis has no public setting for this; its engine reads the module global
    below on every run. Without that global (a later Hypothesis), shrinking keeps
    Hypothesis's own bound, which costs time but changes no verdict.
    """
    engine = importlib.import_module("hypothesis.internal.conjecture.engine")
    if seconds is None or not hasattr(engine, _SHRINK_BOUND):
        yield
        return
    saved = getattr(engine, _SHRINK_BOUND)
    setattr(engine, _SHRINK_BOUND, seconds)
    try:
        yield
    finally:
        setattr(engine, _SHRINK_BOUND, saved)


def _machine_settings() -> tuple[settings, float | None]:
    """The active profile's settings, minus shrinking where the profile bounds it to 0."""
    seconds = STATEFUL_SHRINK_SECONDS.get(ACTIVE)
    if seconds == 0:
        # Explaining needs a shrunk example, so it goes too.
        active = settings()
        unshrunk = [p for p in active.phases if p not in (Phase.shrink, Phase.explain)]
        return settings(active, phases=unshrunk), None
    return settings(), seconds


def test_stateful(store_url: str) -> None:
    """Random operation sequences keep the store equal to the model.

    On the ``dev`` profile a failing run is reported unshrunk, within seconds; see
    `contract_tests.profiles.STATEFUL_SHRINK_SECONDS`.
    """
    machine = type("StoreMachine", (StoreMachine,), {"url": store_url})
    machine_settings, shrink_seconds = _machine_settings()
    with _shrink_time_bound(shrink_seconds):
        # Hypothesis leaves this function unannotated.
        run_state_machine_as_test(machine, settings=machine_settings)  # type: ignore[no-untyped-call]
