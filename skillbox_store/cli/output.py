"""What the commands print: JSON documents for scripts, tables and fields for people.

JSON is the records' Go-compatible form (``model_dump(mode="json", by_alias=True)``),
one document per command. Text output escapes control characters: tenant names, logs
and file names come from tenants, and an escape sequence in one must not reach the
operator's terminal as a command.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = ["emit_details", "emit_json", "emit_table", "record_json", "text"]


def record_json(record: BaseModel) -> dict[str, Any]:
    """Return the document the Go service sent for ``record``."""
    document: dict[str, Any] = record.model_dump(mode="json", by_alias=True)
    return document


def emit_json(document: object) -> None:
    """Print one JSON document on stdout."""
    click.echo(json.dumps(document, indent=2, ensure_ascii=False))


def _escape(value: str, *, keep_newlines: bool = False) -> str:
    if value.isprintable():
        return value
    out: list[str] = []
    for char in value:
        if char.isprintable() or (keep_newlines and char == "\n"):
            out.append(char)
        else:
            # repr() spells \t, \x1b, \u200b... the way a Python user reads them.
            out.append(repr(char)[1:-1])
    return "".join(out)


def text(value: object, *, precise: bool = False) -> str:
    """Return ``value`` as one line of text: ``-`` for nothing, times in UTC.

    Tables show times to the second; ``precise`` keeps the microseconds.
    """
    if value is None or value == "" or value == []:
        return "-"
    if isinstance(value, datetime):
        moment = value.astimezone(UTC)
        shown = moment.isoformat(sep=" ", timespec="microseconds" if precise else "seconds")
        return shown.removesuffix("+00:00") + "Z"
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return ", ".join(_escape(item) for item in value)
    if isinstance(value, dict | list | bool):
        return _escape(json.dumps(value, ensure_ascii=False))
    return _escape(str(value))


def emit_table(headers: Sequence[str], rows: Iterable[Sequence[object]], empty: str) -> None:
    """Print rows under their headers in aligned columns, or ``empty`` when there are none."""
    cells = [[text(value) for value in row] for row in rows]
    if not cells:
        click.echo(empty)
        return
    widths = [max(len(header), *(len(row[i]) for row in cells)) for i, header in enumerate(headers)]
    for row in [list(headers), *cells]:
        line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        click.echo(line.rstrip())


def emit_details(fields: Sequence[tuple[str, object]]) -> None:
    """Print one record as ``name: value`` lines; multi-line text follows, indented."""
    width = max(len(name) for name, _ in fields) + 1
    for name, value in fields:
        label = f"{name}:".ljust(width)
        if isinstance(value, str) and "\n" in value.strip("\n"):
            click.echo(label.rstrip())
            for line in _escape(value.strip("\n"), keep_newlines=True).split("\n"):
                click.echo(f"  {line}")
        else:
            click.echo(f"{label} {text(value, precise=True)}")
