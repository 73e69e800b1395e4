"""Hypothesis profiles shared by `contract_tests` and `tests`: ``dev``, ``ci``, ``nightly``.

Importing this module registers the profiles and loads the one named by the
``HYPOTHESIS_PROFILE`` environment variable (``dev`` when unset). Both conftests import
it, so one variable governs every Hypothesis test of the project. ``bites`` is the
profile of the suite's own bite test, not for people.
"""

from __future__ import annotations

import os
from typing import Final

from hypothesis import HealthCheck, Phase, settings

__all__ = ["ACTIVE", "PROFILES", "PROFILE_ENV", "STATEFUL_SHRINK_SECONDS", "load_profile"]

PROFILE_ENV: Final = "HYPOTHESIS_PROFILE"
PROFILES: Final = ("dev", "ci", "nightly", "bites")

# Every profile starts from Hypothesis's own defaults, not from `settings.default`: with
# CI set in the environment, Hypothesis makes its built-in "ci" profile the default, and
# a profile inheriting from it would be derandomized there but not on a laptop (the bite
# test's fixed seed was silently ignored in CI that way).
_BASE: Final = settings.get_profile("default")

# Tests share one opened store across their examples on purpose (opening a PostgreSQL
# pool per example would dominate the run) and isolate examples by fresh tenants, so
# the function-scoped-fixture health check is a false alarm here.
_SHARED_FIXTURES: Final = (HealthCheck.function_scoped_fixture,)

settings.register_profile(
    "dev",
    parent=_BASE,
    max_examples=20,
    stateful_step_count=25,
    # A database round trip of a cold store can take a few hundred milliseconds.
    deadline=None,
    suppress_health_check=_SHARED_FIXTURES,
)
settings.register_profile(
    "ci",
    parent=_BASE,
    # Derandomized so a red CI run replays on a laptop with the same command.
    derandomize=True,
    database=None,
    max_examples=50,
    stateful_step_count=40,
    deadline=None,
    print_blob=True,
    suppress_health_check=(*_SHARED_FIXTURES, HealthCheck.too_slow, HealthCheck.data_too_large),
)
settings.register_profile(
    "nightly",
    parent=_BASE,
    max_examples=1000,
    stateful_step_count=100,
    deadline=None,
    print_blob=True,
    suppress_health_check=(*_SHARED_FIXTURES, HealthCheck.too_slow, HealthCheck.data_too_large),
)

# For tests/test_suite_bites.py: dev, minus shrinking, with more examples. A bite run
# only needs to know that the suite fails; shrinking a stateful failure costs a minute or
# more per run. Some breaks (one-level version lists) need a chain three deep, which 20
# examples of a fixed seed did not always build (seen on Python 3.13).
settings.register_profile(
    "bites",
    parent=settings.get_profile("dev"),
    max_examples=100,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    database=None,
)


STATEFUL_SHRINK_SECONDS: Final[dict[str, float | None]] = {
    "dev": 0,
    "ci": 60,
    "nightly": None,
    "bites": 0,
}
"""How long the stateful machine may shrink a failure, per profile (None: no bound).

A failing machine run can take minutes to shrink (five, once), while a backend author
on ``dev`` wants the broken clause named at once: ``dev`` reports the failing run
unshrunk (its steps are all in the report, with the clause named in the assertion),
``ci`` shrinks for at most a minute, ``nightly`` shrinks fully. Applied by
`contract_tests.test_stateful`.
"""


def load_profile() -> str:
    """Load the profile that ``HYPOTHESIS_PROFILE`` names and return its name.

    Raises:
        ValueError: the variable names no registered profile.
    """
    name = os.environ.get(PROFILE_ENV, "dev") or "dev"
    if name not in PROFILES:
        raise ValueError(f"{PROFILE_ENV}={name!r}: choose one of {', '.join(PROFILES)}")
    settings.load_profile(name)
    return name


ACTIVE: Final = load_profile()
