"""The oracle of the stateful test: what the store must hold, in plain dicts.

It never touches a backend (the memory backend included), so it is independent of the
code under test. Rows are ``record.model_dump()`` dicts; values the store chooses (ids,
timestamps) enter the model when a call returns them. Dicts keep insertion order, which
is creation order, so "newest first" is the reverse of a table's values.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Model", "Row", "TenantModel"]

Row = dict[str, Any]


@dataclass
class TenantModel:
    """One tenant's records."""

    keys: dict[str, Row] = field(default_factory=dict)  # id -> key
    executions: dict[str, Row] = field(default_factory=dict)  # id -> execution
    files: dict[str, Row] = field(default_factory=dict)  # id -> file
    sessions: dict[str, Row] = field(default_factory=dict)  # external id -> session
    skills: dict[tuple[str, str], Row] = field(default_factory=dict)  # (name, version)
    # (name, version) -> place in upload order; the highest per name is the latest.
    uploads: dict[tuple[str, str], int] = field(default_factory=dict)


@dataclass
class Model:
    """Every tenant of a machine run; `copy` gives the scratch model of a transaction."""

    tenants: dict[str, TenantModel]
    upload_counter: int = 0

    @classmethod
    def with_tenants(cls, names: list[str]) -> Model:
        """Return an empty model for these tenants."""
        return cls({name: TenantModel() for name in names})

    def copy(self) -> Model:
        """Return a deep copy that a transaction may change and then adopt or drop."""
        return copy.deepcopy(self)

    def __getitem__(self, tenant: str) -> TenantModel:
        return self.tenants[tenant]

    # -- API keys -----------------------------------------------------------------------

    def all_keys(self) -> list[Row]:
        """Every key of every tenant, tenant by tenant in creation order."""
        return [key for t in self.tenants.values() for key in t.keys.values()]

    def key_owner(self, key_id: str) -> str | None:
        """The tenant owning this key, if any."""
        return next((n for n, t in self.tenants.items() if key_id in t.keys), None)

    # -- Executions ---------------------------------------------------------------------

    def all_executions(self) -> list[Row]:
        """Every execution of every tenant."""
        return [e for t in self.tenants.values() for e in t.executions.values()]

    def execution_owner(self, execution_id: str) -> str | None:
        """The tenant owning this execution, if any."""
        return next((n for n, t in self.tenants.items() if execution_id in t.executions), None)

    # -- Files and chains ---------------------------------------------------------------

    def all_files(self) -> list[Row]:
        """Every file of every tenant."""
        return [f for t in self.tenants.values() for f in t.files.values()]

    def file_owner(self, file_id: str) -> str | None:
        """The tenant owning this file, if any."""
        return next((n for n, t in self.tenants.items() if file_id in t.files), None)

    def root(self, tenant: str, file_id: str) -> str:
        """The first file of the chain: follow `parent_id` until there is none."""
        files = self.tenants[tenant].files
        while (parent := files[file_id]["parent_id"]) is not None:
            file_id = parent
        return file_id

    def chain(self, tenant: str, file_id: str) -> list[Row]:
        """Every file connected to ``file_id`` through `parent_id`, highest version first."""
        root = self.root(tenant, file_id)
        files = self.tenants[tenant].files
        members = [f for f in files.values() if self.root(tenant, f["id"]) == root]
        return sorted(members, key=lambda f: f["version"], reverse=True)

    def roots(self, tenant: str) -> list[str]:
        """The first file of each of the tenant's chains, in creation order."""
        return [f["id"] for f in self.tenants[tenant].files.values() if f["parent_id"] is None]

    def children(self, tenant: str, file_id: str) -> list[Row]:
        """The files that name ``file_id`` as their parent."""
        return [f for f in self.tenants[tenant].files.values() if f["parent_id"] == file_id]

    def version_conflicts(self, tenant: str, file_id: str, version: int) -> bool:
        """Whether giving ``file_id`` this version would break its chain's order."""
        file = self.tenants[tenant].files[file_id]
        if version == file["version"]:
            return False
        for member in self.chain(tenant, file_id):
            if member["id"] == file_id:
                continue
            if member["version"] == version:
                return True
            if member["id"] == file["parent_id"] and version <= member["version"]:
                return True
            if member["parent_id"] == file_id and version >= member["version"]:
                return True
        return False

    # -- Sessions -----------------------------------------------------------------------

    def all_sessions(self) -> list[Row]:
        """Every session of every tenant."""
        return [s for t in self.tenants.values() for s in t.sessions.values()]

    def session_by_id(self, tenant: str, session_id: str) -> Row | None:
        """The tenant's session with this internal id, if any."""
        sessions = self.tenants[tenant].sessions.values()
        return next((s for s in sessions if s["id"] == session_id), None)

    # -- Skills -------------------------------------------------------------------------

    def latest_version(self, tenant: str, name: str) -> str | None:
        """The version of the skill upserted last, if it has any."""
        uploads = self.tenants[tenant].uploads
        versions = [(seq, v) for (n, v), seq in uploads.items() if n == name]
        return max(versions)[1] if versions else None
