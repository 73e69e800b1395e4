"""Which stores the suite runs against: ``--store-url`` URLs, or the built-in defaults.

A wrong target is a usage error found before any test is collected: `check_targets`
says, in one line, which names and URL schemes would have worked.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from typing import Final, Literal

from skillbox_store.open import available_schemes
from skillbox_store.urls import redact_url, url_scheme

__all__ = [
    "BACKENDS_ENV",
    "DEFAULT_TARGETS",
    "Target",
    "TargetError",
    "check_targets",
    "default_targets",
    "url_targets",
]

BACKENDS_ENV: Final = "SKILLBOX_CONTRACT_BACKENDS"

TargetKind = Literal["url", "sqlite-file", "postgres"]


class TargetError(ValueError):
    """The suite was pointed at a store it cannot open; the message says what can be."""


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


def _installed() -> str:
    return ", ".join(f"{scheme}://" for scheme in available_schemes())


def _url_target(url: str, where: str) -> Target:
    scheme = url_scheme(url)
    if scheme not in available_schemes():
        what = f"no backend for {scheme}://" if scheme else "no URL scheme"
        raise TargetError(
            f"{where} {redact_url(url)!r}: {what} is installed; installed schemes: {_installed()}"
        )
    return Target(redact_url(url), "url", url)


def url_targets(urls: list[str]) -> list[Target]:
    """Return one target per ``--store-url``, its id the URL without its password.

    Raises:
        TargetError: a URL's scheme has no installed backend.
    """
    return [_url_target(url, "--store-url") for url in urls]


def _postgres_provider_present() -> bool:
    # The provider ships in this package, but a trimmed install may leave it out; the
    # default set then leaves PostgreSQL out rather than failing every run.
    return importlib.util.find_spec("skillbox_store.testing_postgres") is not None


def default_targets() -> list[Target]:
    """Return the built-in targets, narrowed by ``SKILLBOX_CONTRACT_BACKENDS`` when set.

    The variable is a comma-separated list of target names (``memory``, ``sqlite-file``,
    ``sqlite-memory``, ``postgres``) and store URLs (anything with ``://``), so that a
    plugged-in backend can be named there too.

    Raises:
        TargetError: the variable names a target that does not exist, or a URL whose
            scheme has no installed backend.
    """
    known = {target.id: target for target in DEFAULT_TARGETS}
    wanted = os.environ.get(BACKENDS_ENV, "").strip()
    if not wanted:
        return [t for t in DEFAULT_TARGETS if t.kind != "postgres" or _postgres_provider_present()]
    chosen = []
    for name in filter(None, (part.strip() for part in wanted.split(","))):
        if "://" in name:
            chosen.append(_url_target(name, BACKENDS_ENV))
        elif name in known:
            chosen.append(known[name])
        else:
            raise TargetError(
                f"{BACKENDS_ENV}: unknown backend {name!r}; use {', '.join(known)}, or a URL "
                f"of an installed scheme: {_installed()}"
            )
    if not chosen:
        raise TargetError(f"{BACKENDS_ENV} is set but names no backend")
    return chosen


def check_targets(urls: list[str]) -> list[Target]:
    """Return the targets of this run: ``urls`` if any, else the defaults.

    Raises:
        TargetError: see `url_targets` and `default_targets`.
    """
    return url_targets(urls) if urls else default_targets()
