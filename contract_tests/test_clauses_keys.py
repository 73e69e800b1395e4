"""One targeted test per clause of docs/contract.md, "API keys"."""

from __future__ import annotations

import hashlib
import re
import time
from datetime import datetime

import pytest

from skillbox_store import (
    AlreadyExistsError,
    AlreadyRevokedError,
    NotFoundError,
    generate_key,
    hash_key,
)
from skillbox_store.records import utc_now

from .clauses import clause
from .harness import Harness, call, new_key_hash, new_tenant, raises


def _past(moment: datetime) -> datetime:
    """Wait until the clock has passed ``moment``; return the time then."""
    while (now := utc_now()) <= moment:
        time.sleep(0.001)
    return now


@clause("keys.create.returns")
def test_create_key_returns_the_stored_key(harness: Harness) -> None:
    """The key comes back with a new id, the given fields, no revocation, created now."""
    tenant, key_hash = new_tenant(), new_key_hash()
    store = harness.store
    first = harness.run(call(store.create_key(tenant, "first", new_key_hash())))
    before = _past(first.created_at)
    key = harness.run(call(store.create_key(tenant, "ci key", key_hash)))
    after = utc_now()
    assert (key.tenant_id, key.name, key.key_hash) == (tenant, "ci key", key_hash)
    assert key.revoked_at is None
    assert key.id
    assert key.id != first.id
    assert before <= key.created_at <= after, (before, key.created_at, after)
    assert harness.run(call(store.get_key_by_hash(key_hash))) == key


@clause("keys.create.unique")
def test_duplicate_hash_is_refused_across_tenants(harness: Harness) -> None:
    """A hash in use, by this tenant or another, revoked or not: AlreadyExistsError."""
    owner, other = new_tenant(), new_tenant()
    store = harness.store
    live, revoked = new_key_hash(), new_key_hash()
    harness.run(call(store.create_key(owner, "live", live)))
    gone = harness.run(call(store.create_key(owner, "revoked", revoked)))
    harness.run(call(store.revoke_key(owner, gone.id)))
    for tenant in (owner, other):
        for key_hash in (live, revoked):
            harness.run(raises(AlreadyExistsError, store.create_key(tenant, "dup", key_hash)))
    assert [k.name for k in harness.run(call(store.list_keys(owner)))] == ["revoked", "live"]
    assert harness.run(call(store.list_keys(other))) == []
    assert harness.run(call(store.get_key_by_hash(live))).name == "live"


@clause("keys.get_by_hash.any_tenant")
def test_get_key_by_hash_finds_any_tenants_key(harness: Harness) -> None:
    """Two tenants' keys are each found by hash alone."""
    store = harness.store
    keys = [
        harness.run(call(store.create_key(new_tenant(), name, new_key_hash())))
        for name in ("a", "b")
    ]
    for key in keys:
        assert harness.run(call(store.get_key_by_hash(key.key_hash))) == key


@clause("keys.get_by_hash.revoked")
def test_get_key_by_hash_returns_revoked_keys(harness: Harness) -> None:
    """A revoked key is still found, with the revoked_at revoke_key returned."""
    tenant = new_tenant()
    store = harness.store
    key = harness.run(call(store.create_key(tenant, "k", new_key_hash())))
    revoked = harness.run(call(store.revoke_key(tenant, key.id)))
    found = harness.run(call(store.get_key_by_hash(key.key_hash)))
    assert found == revoked
    assert found.revoked_at is not None


@clause("keys.get_by_hash.missing")
def test_get_key_by_hash_of_unknown_hash_is_not_found(harness: Harness) -> None:
    """No key has the hash: NotFoundError."""
    harness.run(raises(NotFoundError, harness.store.get_key_by_hash(new_key_hash())))


@clause("keys.validate.valid")
def test_validate_key_returns_live_keys(harness: Harness) -> None:
    """A live key validates, whichever tenant owns it, as the stored key."""
    store = harness.store
    for name in ("a", "b"):
        key = harness.run(call(store.create_key(new_tenant(), name, new_key_hash())))
        assert harness.run(call(store.validate_key(key.key_hash))) == key


@clause("keys.validate.missing")
def test_validate_key_of_unknown_hash_is_none(harness: Harness) -> None:
    """No key has the hash: None, not an error."""
    assert harness.run(call(harness.store.validate_key(new_key_hash()))) is None


@clause("keys.validate.revoked")
def test_revoked_keys_never_validate(harness: Harness) -> None:
    """Revoked directly or inside a committed block, a key validates no more."""
    tenant = new_tenant()
    store = harness.store
    direct = harness.run(call(store.create_key(tenant, "direct", new_key_hash())))
    in_block = harness.run(call(store.create_key(tenant, "in block", new_key_hash())))
    harness.run(call(store.revoke_key(tenant, direct.id)))

    async def revoke_in_block() -> None:
        async with store.transaction() as tx:
            await call(tx.revoke_key(tenant, in_block.id))
            assert await call(tx.validate_key(in_block.key_hash)) is None

    harness.run(revoke_in_block())
    for key in (direct, in_block):
        assert harness.run(call(store.validate_key(key.key_hash))) is None, key.name


@clause("keys.list.newest_first")
def test_list_keys_newest_first(harness: Harness) -> None:
    """Keys come back in reverse creation order."""
    tenant = new_tenant()
    store = harness.store
    names = [f"k{i}" for i in range(5)]
    for name in names:
        harness.run(call(store.create_key(tenant, name, new_key_hash())))
    assert [k.name for k in harness.run(call(store.list_keys(tenant)))] == names[::-1]


@clause("keys.list.revoked")
def test_list_keys_includes_revoked(harness: Harness) -> None:
    """A revoked key is listed with its revoked_at."""
    tenant = new_tenant()
    store = harness.store
    kept = harness.run(call(store.create_key(tenant, "kept", new_key_hash())))
    gone = harness.run(call(store.create_key(tenant, "gone", new_key_hash())))
    revoked = harness.run(call(store.revoke_key(tenant, gone.id)))
    assert harness.run(call(store.list_keys(tenant))) == [revoked, kept]


@clause("keys.list.scoped")
def test_list_keys_only_the_tenants(harness: Harness) -> None:
    """Another tenant's keys are not listed; a tenant with none gets []."""
    owner, other, empty = new_tenant(), new_tenant(), new_tenant()
    store = harness.store
    mine = harness.run(call(store.create_key(owner, "mine", new_key_hash())))
    harness.run(call(store.create_key(other, "theirs", new_key_hash())))
    assert harness.run(call(store.list_keys(owner))) == [mine]
    assert harness.run(call(store.list_keys(empty))) == []


@clause("keys.revoke.returns")
def test_revoke_key_sets_revoked_at_now(harness: Harness) -> None:
    """revoked_at is the time of the call; nothing else changes; reads agree."""
    tenant = new_tenant()
    store = harness.store
    key = harness.run(call(store.create_key(tenant, "k", new_key_hash())))
    before = _past(key.created_at)
    revoked = harness.run(call(store.revoke_key(tenant, key.id)))
    after = utc_now()
    assert revoked.revoked_at is not None
    assert before <= revoked.revoked_at <= after, (before, revoked.revoked_at, after)
    assert revoked == key.model_copy(update={"revoked_at": revoked.revoked_at})
    assert harness.run(call(store.get_key_by_hash(key.key_hash))) == revoked
    assert harness.run(call(store.list_keys(tenant))) == [revoked]


@clause("keys.revoke.only")
def test_revoke_key_changes_no_other_key(harness: Harness) -> None:
    """The tenant's other keys and another tenant's keys stay live and unchanged."""
    tenant, other = new_tenant(), new_tenant()
    store = harness.store
    older = harness.run(call(store.create_key(tenant, "older", new_key_hash())))
    target = harness.run(call(store.create_key(tenant, "target", new_key_hash())))
    newer = harness.run(call(store.create_key(tenant, "newer", new_key_hash())))
    foreign = harness.run(call(store.create_key(other, "foreign", new_key_hash())))
    harness.run(call(store.revoke_key(tenant, target.id)))
    for key in (older, newer, foreign):
        assert harness.run(call(store.validate_key(key.key_hash))) == key, key.name
    listed = harness.run(call(store.list_keys(tenant)))
    assert [listed[0], listed[2]] == [newer, older]


@clause("keys.revoke.scoped")
def test_revoke_other_tenants_key_is_not_found(harness: Harness) -> None:
    """Revoking as the wrong tenant: NotFoundError, and the key still validates."""
    owner, other = new_tenant(), new_tenant()
    store = harness.store
    key = harness.run(call(store.create_key(owner, "k", new_key_hash())))
    harness.run(raises(NotFoundError, store.revoke_key(other, key.id)))
    assert harness.run(call(store.validate_key(key.key_hash))) == key
    assert harness.run(call(store.list_keys(owner))) == [key]


@clause("keys.revoke.missing")
@pytest.mark.parametrize("key_id", ["00000000-0000-4000-8000-000000000000", "not-a-uuid"])
def test_revoke_unknown_key_is_not_found(harness: Harness, key_id: str) -> None:
    """An id no key has, well-formed or not: NotFoundError."""
    harness.run(raises(NotFoundError, harness.store.revoke_key(new_tenant(), key_id)))


@clause("keys.revoke.once")
def test_revoke_twice_is_already_revoked(harness: Harness) -> None:
    """The second revocation fails and keeps the first revoked_at."""
    tenant = new_tenant()
    store = harness.store
    key = harness.run(call(store.create_key(tenant, "k", new_key_hash())))
    first = harness.run(call(store.revoke_key(tenant, key.id)))
    assert first.revoked_at is not None
    _past(first.revoked_at)
    harness.run(raises(AlreadyRevokedError, store.revoke_key(tenant, key.id)))
    assert harness.run(call(store.get_key_by_hash(key.key_hash))) == first


@clause("keys.generate.format")
def test_generate_key_format() -> None:
    """sk- and 48 lowercase hex characters, new each time, hashed with SHA-256."""
    plaintext, key_hash = generate_key()
    again, _ = generate_key()
    assert re.fullmatch(r"sk-[0-9a-f]{48}", plaintext), plaintext
    assert again != plaintext
    assert key_hash == hash_key(plaintext) == hashlib.sha256(plaintext.encode()).hexdigest()
    assert hash_key("sk-é") == hashlib.sha256("sk-é".encode()).hexdigest()
