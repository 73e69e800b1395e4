"""Adopting a Go Skillbox database in place: ``skillbox-store adopt`` and its Python form.

Modules, one idea each: `detect` (is it a Go database, which goose version), `checks`
(the refusal rules), `statements` (every SQL text, the conversion rules among them),
`convert` (build, copy, swap), `verify` (proof before COMMIT), `report` (what the
operator is told) and `run` (`adopt_go_database`, one transaction around all of it).
docs/adopting-go.md is the operator's guide.
"""

from __future__ import annotations

from skillbox_store.adopt.report import (
    CONVERSION_RULES,
    AdoptionRefusedError,
    AdoptionReport,
    Offence,
    Tie,
    VerificationError,
)
from skillbox_store.adopt.run import adopt_go_database

__all__ = [
    "CONVERSION_RULES",
    "AdoptionRefusedError",
    "AdoptionReport",
    "Offence",
    "Tie",
    "VerificationError",
    "adopt_go_database",
]
