"""Invariants: compare what the store shows with the model, through the public API only."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from skillbox_store import FileFilter, NotFoundError, Store

from .harness import call, new_key_hash, raises
from .model import Model, Row
from .operations import EXTERNAL_IDS, SKILL_NAMES

__all__ = [
    "check_chains",
    "check_gone_keys",
    "check_keys",
    "check_listings",
    "check_sessions",
    "check_skills",
]


def _dumps(records: Sequence[BaseModel]) -> list[Row]:
    return [r.model_dump() for r in records]


def _newest_first(rows: dict[str, Row]) -> list[Row]:
    return list(reversed(rows.values()))


async def check_listings(store: Store, model: Model, tenant: str) -> None:
    """Whole listings of keys, executions, files and skills equal the model's."""
    tm = model[tenant]
    keys = await call(store.list_keys(tenant))
    assert _dumps(keys) == _newest_first(tm.keys), (
        f"broken clause keys.list.newest_first: list_keys({tenant!r})"
    )
    executions = await call(store.list_executions(tenant, limit=100))
    assert _dumps(executions) == _newest_first(tm.executions)[:100], (
        f"broken clause executions.list.newest_first: list_executions({tenant!r})"
    )
    files = await call(store.list_files(FileFilter(tenant_id=tenant, limit=200)))
    assert _dumps(files) == _newest_first(tm.files)[:200], (
        f"broken clause files.list.newest_first: list_files({tenant!r})"
    )
    skills = await call(store.list_skills(tenant))
    expected = [tm.skills[k] for k in sorted(tm.skills)]
    assert _dumps(skills) == expected, f"broken clause skills.list.order: list_skills({tenant!r})"


async def check_keys(store: Store, model: Model) -> None:
    """Every key is found by its hash; only the unrevoked ones validate."""
    for key in model.all_keys():
        found = await call(store.get_key_by_hash(key["key_hash"]))
        assert found.model_dump() == key, (
            f"broken clause keys.get_by_hash.any_tenant: get_key_by_hash of {key['id']}"
        )
        valid = await call(store.validate_key(key["key_hash"]))
        if key["revoked_at"] is None:
            assert valid is not None, (
                f"broken clause keys.validate.valid: unrevoked key {key['id']} does not validate"
            )
            assert valid.model_dump() == key, (
                f"broken clause keys.validate.valid: validate_key of {key['id']}"
            )
        else:
            assert valid is None, (
                f"broken clause keys.validate.revoked: revoked key {key['id']} validates"
            )


async def check_gone_keys(store: Store, key_hashes: list[str]) -> None:
    """Keys created in rolled-back transactions left no trace; unknown hashes are unknown."""
    for key_hash in [*key_hashes, new_key_hash()]:
        await raises(NotFoundError, store.get_key_by_hash(key_hash))
        assert await call(store.validate_key(key_hash)) is None


async def check_chains(store: Store, model: Model, tenant: str) -> None:
    """Each chain, listed from any of its members, is whole and ordered."""
    for member in model[tenant].files:
        chain = model.chain(tenant, member)
        listed = _dumps(await call(store.list_file_versions(tenant, member)))
        assert listed == chain, (
            f"broken clause files.versions.chain: list_file_versions({tenant!r}, {member})"
        )
        versions = [f["version"] for f in listed]
        assert versions == sorted(set(versions), reverse=True), versions
        by_id = {f["id"]: f for f in listed}
        for file in listed:
            parent = by_id.get(file["parent_id"])
            if parent is not None:
                assert file["version"] > parent["version"], (file, parent)


async def check_sessions(store: Store, model: Model, tenant: str) -> None:
    """Each external id has exactly the model's session, found both ways."""
    sessions = model[tenant].sessions
    for external_id in EXTERNAL_IDS:
        session = sessions.get(external_id)
        if session is None:
            await raises(NotFoundError, store.get_session_by_external_id(tenant, external_id))
            continue
        by_external = await call(store.get_session_by_external_id(tenant, external_id))
        assert by_external.model_dump() == session, (
            f"broken clause sessions.get.returns: session {external_id!r} of {tenant!r}"
        )
        by_id = await call(store.get_session(tenant, session["id"]))
        assert by_id.model_dump() == session, (
            f"broken clause sessions.get.returns: get_session({tenant!r}, {session['id']})"
        )


async def check_skills(store: Store, model: Model, tenant: str) -> None:
    """resolve_latest_version follows the uploads; a name without versions is not found."""
    for name in SKILL_NAMES:
        expected = model.latest_version(tenant, name)
        if expected is None:
            await raises(NotFoundError, store.resolve_latest_version(tenant, name))
            continue
        latest = await call(store.resolve_latest_version(tenant, name))
        assert latest == expected, (
            f"broken clause skills.latest.uploaded: resolve_latest_version({tenant!r}, {name!r})"
        )
