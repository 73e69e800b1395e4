"""What an adoption found and did: `AdoptionReport`, and the errors that carry one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

from skillbox_store.errors import MigrationError

__all__ = [
    "CONVERSION_RULES",
    "AdoptionRefusedError",
    "AdoptionReport",
    "Offence",
    "Outcome",
    "Tie",
    "VerificationError",
]

Outcome = Literal["adopted", "would adopt", "refused", "nothing to do"]

# The choices the conversion makes where GO_SCHEMA.md leaves one: stated in every
# report, and in docs/adopting-go.md.
CONVERSION_RULES: Final = (
    "executions.logs, files_url: NULL becomes ''",
    "executions.files_list: NULL becomes '{}'; a NULL element is refused (not dropped)",
    "executions.duration_ms: NULL becomes 0; a negative value is refused",
    "files.session_id: '' becomes NULL; a UUID in 8-4-4-4-12 form becomes canonical "
    "(lower-case) uuid; a file whose session was deleted keeps its session_id; "
    "anything else is refused",
    "files.parent_id: kept as Go wrote it (star-shaped chains stay stars); chain_id is "
    "the root reached through parent_id",
    "files.version: a version repeated in one chain is refused (no renumbering)",
    "api_keys/executions/files.seq: numbered by (created_at, id)",
    "skills.upload_seq: numbered by (uploaded_at, tenant_id, name, version) in code-point "
    "order: the newest upload is the latest version, and of uploads at the same instant "
    "the highest version in code-point order",
    'skills.name, version: COLLATE "C": listings sort in code-point order',
    "the goose table(s) move into the backup schema with the Go tables, so that a Go "
    "server started afterwards finds no applied migrations and fails instead of "
    "writing into tables that now belong to skillbox-store",
)


@dataclass(frozen=True, slots=True)
class Offence:
    """A row (or the schema itself) that adoption cannot carry over, and why."""

    table: str
    id: str
    tenant_id: str
    rule: str

    def __str__(self) -> str:
        who = f" tenant {self.tenant_id!r}" if self.tenant_id else ""
        what = f" {self.id}" if self.id else ""
        return f"{self.table}{what}{who}: {self.rule}"


@dataclass(frozen=True, slots=True)
class Tie:
    """A (tenant, name) whose newest uploads share one ``uploaded_at``: Go's pick was
    arbitrary, the adopted store's is the highest version in code-point order."""

    tenant_id: str
    name: str
    versions: tuple[str, ...]
    chosen: str


@dataclass(slots=True)
class AdoptionReport:
    """The outcome of `adopt_go_database`, whole: what was found, refused, copied, chosen.

    Attributes:
        url: the database, without its password.
        schema: the schema of the Go tables, and of the store's afterwards.
        outcome: ``adopted``, ``would adopt`` (a dry run that would succeed),
            ``refused`` or ``nothing to do`` (already adopted).
        dry_run: nothing was (or would have been) committed.
        go_version: the highest applied goose version (0 when unknown).
        layout: the goose layout and where its tables are.
        backup_schema: where the Go tables are (or would be) kept.
        counts: rows per Go table.
        offences: every row (or schema fact) that refuses the adoption.
        ties: the (tenant, name) whose latest version was a tie in Go.
        conversions: how many values each NULL or form conversion touches.
        rules: the conversion rules applied (`CONVERSION_RULES`).
        notes: anything else worth telling the operator.
        seconds: how long the run took.
    """

    url: str
    schema: str
    outcome: Outcome = "refused"
    dry_run: bool = False
    go_version: int = 0
    layout: str = ""
    backup_schema: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    offences: list[Offence] = field(default_factory=list)
    ties: list[Tie] = field(default_factory=list)
    conversions: dict[str, int] = field(default_factory=dict)
    rules: tuple[str, ...] = CONVERSION_RULES
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether the run succeeded (or, dry, would succeed) or had nothing to do."""
        return self.outcome != "refused"

    def lines(self) -> list[str]:
        """Return the report as the command line prints it."""
        out = [f"{self.outcome}: schema {self.schema!r} of {self.url}"]
        if self.go_version:
            out.append(f"Go database: goose version {self.go_version}, {self.layout}")
        out.extend(f"note: {note}" for note in self.notes)
        if self.counts:
            out.append("rows: " + ", ".join(f"{table} {n:,}" for table, n in self.counts.items()))
        if self.offences:
            out.append(f"refused: {len(self.offences)} problem(s), every one listed:")
            out.extend(f"  {offence}" for offence in self.offences)
            return out
        if self.outcome in ("adopted", "would adopt"):
            out.append(f"backup schema: {self.backup_schema} (the Go tables, untouched)")
            out.append("conversion rules:")
            out.extend(f"  - {rule}" for rule in self.rules)
            touched = {k: n for k, n in self.conversions.items() if n}
            if touched:
                out.append("values converted:")
                out.extend(f"  {what}: {n:,}" for what, n in touched.items())
            for tie in self.ties:
                out.append(
                    f"tie: tenant {tie.tenant_id!r} skill {tie.name!r}: versions "
                    f"{', '.join(tie.versions)} share the newest uploaded_at; latest is "
                    f"now {tie.chosen!r}"
                )
            out.append(f"took {self.seconds:.2f} s")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


class AdoptionRefusedError(MigrationError):
    """The Go database holds what this store cannot carry over; nothing was changed.

    ``report.offences`` lists every offending row at once.
    """

    def __init__(self, report: AdoptionReport) -> None:
        self.report = report
        shown = "; ".join(str(o) for o in report.offences[:5])
        more = len(report.offences) - 5
        tail = f"; and {more} more (see the report)" if more > 0 else ""
        super().__init__(
            f"adoption of schema {report.schema!r} refused, nothing was changed: "
            f"{len(report.offences)} problem(s): {shown}{tail}"
        )


class VerificationError(MigrationError):
    """The converted tables did not equal the Go tables; everything was rolled back."""

    def __init__(self, differences: list[str]) -> None:
        self.differences = differences
        super().__init__(
            "adoption rolled back, nothing was changed: the converted tables differ from "
            "the Go tables: " + "; ".join(differences)
        )
