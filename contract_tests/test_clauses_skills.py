"""One targeted test per clause of docs/contract.md, "Skills"."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from skillbox_store import NotFoundError, SkillRecord
from skillbox_store.records import utc_now

from .clauses import clause
from .harness import Harness, call, new_tenant, raises

_LONG_AGO = datetime(2001, 2, 3, 4, 5, 6, 7, tzinfo=UTC)
_FUTURE = datetime(2099, 2, 3, 4, 5, 6, 7, tzinfo=UTC)


def _past(moment: datetime) -> datetime:
    """Wait until the clock has passed ``moment``; return the time then."""
    while (now := utc_now()) <= moment:
        time.sleep(0.001)
    return now


def _upsert(
    harness: Harness, tenant: str, name: str, version: str, **fields: object
) -> SkillRecord:
    record = SkillRecord.model_validate(
        {"tenant_id": tenant, "name": name, "version": version, **fields}
    )
    return harness.run(call(harness.store.upsert_skill(record)))


def _pairs(records: list[SkillRecord]) -> list[tuple[str, str]]:
    return [(r.name, r.version) for r in records]


@clause("skills.upsert.inserts")
def test_upsert_inserts_with_uploaded_at_now(harness: Harness) -> None:
    """The record is stored as given, uploaded now; defaults "" and python."""
    tenant = new_tenant()
    store = harness.store
    before = utc_now()
    full = _upsert(
        harness, tenant, "ocr", "1.0", description="reads", lang="node", uploaded_at=_LONG_AGO
    )
    after = utc_now()
    assert (full.tenant_id, full.name, full.version, full.description, full.lang) == (
        tenant,
        "ocr",
        "1.0",
        "reads",
        "node",
    )
    assert before <= full.uploaded_at <= after, (before, full.uploaded_at, after)
    assert harness.run(call(store.get_skill(tenant, "ocr", "1.0"))) == full
    plain = _upsert(harness, tenant, "plain", "1")
    assert (plain.description, plain.lang) == ("", "python")
    assert harness.run(call(store.get_skill(tenant, "plain", "1"))) == plain


@clause("skills.upsert.updates")
def test_upsert_updates_description_and_lang(harness: Harness) -> None:
    """The second upsert replaces description and lang; still one record."""
    tenant = new_tenant()
    store = harness.store
    _upsert(harness, tenant, "ocr", "1.0", description="old", lang="python")
    _upsert(harness, tenant, "ocr", "2.0", description="other")
    updated = _upsert(harness, tenant, "ocr", "1.0", description="new", lang="go")
    assert (updated.description, updated.lang) == ("new", "go")
    assert harness.run(call(store.get_skill(tenant, "ocr", "1.0"))) == updated
    assert _pairs(harness.run(call(store.list_skills(tenant)))) == [("ocr", "1.0"), ("ocr", "2.0")]
    cleared = _upsert(harness, tenant, "ocr", "1.0")
    assert (cleared.description, cleared.lang) == ("", "python")
    assert harness.run(call(store.get_skill(tenant, "ocr", "2.0"))).description == "other"


@clause("skills.upsert.uploaded_at")
def test_upsert_resets_uploaded_at(harness: Harness) -> None:
    """Each upsert of a stored version sets uploaded_at later, whatever was passed."""
    tenant = new_tenant()
    store = harness.store
    previous = _upsert(harness, tenant, "ocr", "1.0")
    for passed in (previous.uploaded_at, _LONG_AGO, _FUTURE):
        before = _past(previous.uploaded_at)
        again = _upsert(harness, tenant, "ocr", "1.0", uploaded_at=passed)
        after = utc_now()
        assert previous.uploaded_at < before <= again.uploaded_at <= after, (
            previous.uploaded_at,
            before,
            again.uploaded_at,
        )
        stored = harness.run(call(store.get_skill(tenant, "ocr", "1.0")))
        assert stored.uploaded_at == again.uploaded_at
        previous = again


@clause("skills.get.returns")
def test_get_skill(harness: Harness) -> None:
    """The named version; another tenant's, another version or name: NotFoundError."""
    tenant, other = new_tenant(), new_tenant()
    store = harness.store
    one = _upsert(harness, tenant, "ocr", "1")
    two = _upsert(harness, tenant, "ocr", "2")
    assert harness.run(call(store.get_skill(tenant, "ocr", "1"))) == one
    assert harness.run(call(store.get_skill(tenant, "ocr", "2"))) == two
    for tenant_id, name, version in [
        (other, "ocr", "1"),
        (tenant, "ocr", "3"),
        (tenant, "OCR", "1"),
    ]:
        harness.run(raises(NotFoundError, store.get_skill(tenant_id, name, version)))


@clause("skills.delete.removes")
def test_delete_skill_removes_that_version_only(harness: Harness) -> None:
    """One version goes; the skill's others and other tenants' stay."""
    tenant, other = new_tenant(), new_tenant()
    store = harness.store
    _upsert(harness, tenant, "ocr", "1")
    _upsert(harness, tenant, "ocr", "2")
    _upsert(harness, tenant, "pdf", "1")
    theirs = _upsert(harness, other, "ocr", "1")
    harness.run(call(store.delete_skill(tenant, "ocr", "1")))
    harness.run(raises(NotFoundError, store.get_skill(tenant, "ocr", "1")))
    assert _pairs(harness.run(call(store.list_skills(tenant)))) == [("ocr", "2"), ("pdf", "1")]
    assert harness.run(call(store.list_skills(other))) == [theirs]


@clause("skills.delete.absent")
def test_delete_absent_skill_is_quiet(harness: Harness) -> None:
    """Deleting what is not there raises nothing and changes nothing."""
    tenant, other = new_tenant(), new_tenant()
    store = harness.store
    kept = _upsert(harness, tenant, "ocr", "1")
    for tenant_id, name, version in [
        (tenant, "ocr", "2"),
        (tenant, "nope", "1"),
        (other, "ocr", "1"),
    ]:
        assert harness.run(call(store.delete_skill(tenant_id, name, version))) is None
    assert harness.run(call(store.list_skills(tenant))) == [kept]


@clause("skills.list.order")
def test_list_skills_by_name_then_version(harness: Harness) -> None:
    """Upserted out of order, listed by name then version; only the tenant's."""
    tenant, other = new_tenant(), new_tenant()
    store = harness.store
    for name, version in [("b", "2"), ("a", "2"), ("b", "1"), ("a", "10"), ("a", "1")]:
        _upsert(harness, tenant, name, version)
    _upsert(harness, other, "a", "0")
    listed = harness.run(call(store.list_skills(tenant)))
    assert _pairs(listed) == [("a", "1"), ("a", "10"), ("a", "2"), ("b", "1"), ("b", "2")]
    assert {r.tenant_id for r in listed} == {tenant}


@clause("skills.latest.uploaded")
def test_resolve_latest_is_the_last_upload(harness: Harness) -> None:
    """Not the greatest version: the last upserted, re-upserts included."""
    tenant = new_tenant()
    store = harness.store
    for version in ("1.0", "3.0", "2.0"):
        _upsert(harness, tenant, "ocr", version)
    _upsert(harness, tenant, "other", "9.0")
    assert harness.run(call(store.resolve_latest_version(tenant, "ocr"))) == "2.0"
    _upsert(harness, tenant, "ocr", "1.0", description="re-upload")
    assert harness.run(call(store.resolve_latest_version(tenant, "ocr"))) == "1.0"
    _upsert(harness, tenant, "ocr", "3.0")
    assert harness.run(call(store.resolve_latest_version(tenant, "ocr"))) == "3.0"


@clause("skills.latest.after_delete")
def test_resolve_latest_after_deleting_the_latest(harness: Harness) -> None:
    """The latest deleted, the most recent of the rest is the latest."""
    tenant = new_tenant()
    store = harness.store
    for version in ("2", "1", "3"):
        _upsert(harness, tenant, "ocr", version)
    harness.run(call(store.delete_skill(tenant, "ocr", "3")))
    assert harness.run(call(store.resolve_latest_version(tenant, "ocr"))) == "1"
    harness.run(call(store.delete_skill(tenant, "ocr", "1")))
    assert harness.run(call(store.resolve_latest_version(tenant, "ocr"))) == "2"


@clause("skills.latest.missing")
def test_resolve_latest_of_missing_skill_is_not_found(harness: Harness) -> None:
    """No version for this tenant (another tenant's, or all deleted): NotFoundError."""
    tenant, other = new_tenant(), new_tenant()
    store = harness.store
    _upsert(harness, other, "ocr", "1")
    _upsert(harness, tenant, "gone", "1")
    harness.run(call(store.delete_skill(tenant, "gone", "1")))
    for name in ("ocr", "gone", "never"):
        harness.run(raises(NotFoundError, store.resolve_latest_version(tenant, name)))
