"""Which stores the suite runs against: ``--store-url`` URLs, or the built-in defaults."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from typing import Final, Literal

from skillbox_store.urls import redact_url

__all__ = ["BACKENDS_ENV", "DEFAULT_TARGETS", "Target", "default_targets", "url_targets"]

BACKENDS_ENV: Final = "SKILLBOX_CONTRACT_BACKENDS"

TargetKind = Literal["url", "sqlite-file", "postgres"]


@dataclass(frozen=True, slots=True)
class Target:
    """One store to test: its test id, and its URL or how to obtain one lazily."""

    id: str
    kind: TargetKind
    url: str = ""


DEFAULT_TARGETS: Final = (
    Target("memory", "url", "memory://"),
    Target("sqlite-file", "sqlite-file"),
    Target("sqlite-memory", "url", "sqlite:///:memory:"),
    Target("postgres", "postgres"),
)


def url_targets(urls: list[str]) -> list[Target]:
    """Return one target per ``--store-url``, its id the URL without its password."""
    return [Target(redact_url(url), "url", url) for url in urls]


def _postgres_provider_present() -> bool:
    # The provider is written alongside the PostgreSQL backend; until it ships, the
    # default set leaves PostgreSQL out rather than failing every run.
    return importlib.util.find_spec("contract_tests.postgres_server") is not None


def default_targets() -> list[Target]:
    """Return the built-in targets, narrowed by ``SKILLBOX_CONTRACT_BACKENDS`` when set.

    Raises:
        ValueError: the variable names a target that does not exist.
    """
    known = {target.id: target for target in DEFAULT_TARGETS}
    wanted = os.environ.get(BACKENDS_ENV, "").strip()
    if not wanted:
        return [t for t in DEFAULT_TARGETS if t.kind != "postgres" or _postgres_provider_present()]
    chosen = []
    for name in (part.strip() for part in wanted.split(",")):
        if name not in known:
            raise ValueError(f"{BACKENDS_ENV}: unknown backend {name!r}; known: {', '.join(known)}")
        chosen.append(known[name])
    return chosen
