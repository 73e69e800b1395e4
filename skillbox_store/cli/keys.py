"""``skillbox-store keys``: create, list, revoke and check a tenant's API keys."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Final

import click

from skillbox_store.cli.output import emit_details, emit_json, emit_table, record_json, text
from skillbox_store.cli.runner import (
    CommandError,
    ExitCode,
    Settings,
    pass_settings,
    run,
    store_options,
)
from skillbox_store.errors import NotFoundError
from skillbox_store.keys import generate_key, hash_key

if TYPE_CHECKING:
    # Type names only: the records import SQLModel, which `keys --help` need not pay for.
    from skillbox_store.records import APIKey
    from skillbox_store.store import Store

__all__ = ["keys"]

_KEY_COLUMNS: Final = ("ID", "NAME", "CREATED", "REVOKED")

_tenant_option = click.option("--tenant", required=True, metavar="TENANT", help="Tenant id.")


@click.group()
def keys() -> None:
    """Create, list, revoke and check API keys."""


@keys.command()
@_tenant_option
@click.option("--name", required=True, help="What the key is for (shown in listings).")
@store_options
@pass_settings
def create(settings: Settings, tenant: str, name: str) -> None:
    """Mint a key for TENANT and print it; only its SHA-256 hash is stored.

    The plaintext key is printed once, alone on stdout (KEY=$(skillbox-store keys
    create ...) captures it); with --json it is the "key" field of the document.
    """
    plaintext, key_hash = generate_key()

    async def create_and_show(store: Store) -> None:
        key = await store.create_key(tenant, name, key_hash)
        # Printed before the store closes: a key stored but never shown is useless,
        # so a failure while closing must not swallow it.
        if settings.json:
            emit_json({**record_json(key), "key": plaintext})
        else:
            click.echo(plaintext)
            click.echo(
                f"created key {key.id} ({text(key.name)}) for tenant {text(key.tenant_id)}; "
                "the key is shown only this once, the store keeps only its hash",
                err=True,
            )

    run(settings, create_and_show)


@keys.command("list")
@_tenant_option
@store_options
@pass_settings
def list_keys(settings: Settings, tenant: str) -> None:
    """List TENANT's keys, newest first, revoked ones included."""
    found = run(settings, lambda store: store.list_keys(tenant))
    if settings.json:
        emit_json([record_json(key) for key in found])
    else:
        emit_table(
            _KEY_COLUMNS,
            ((key.id, key.name, key.created_at, key.revoked_at) for key in found),
            empty=f"tenant {text(tenant)} has no keys",
        )


@keys.command()
@_tenant_option
@click.argument("key_id")
@store_options
@pass_settings
def revoke(settings: Settings, tenant: str, key_id: str) -> None:
    """Revoke TENANT's key KEY_ID; it never validates again.

    Exits with 3 if the tenant has no such key, 5 if it was revoked already.
    """
    key = run(settings, lambda store: store.revoke_key(tenant, key_id))
    if settings.json:
        emit_json(record_json(key))
    else:
        click.echo(
            f"revoked key {key.id} ({text(key.name)}) of tenant {text(key.tenant_id)} "
            f"at {text(key.revoked_at, precise=True)}"
        )


def _read_key() -> str:
    # sys.stdin, not click.get_text_stream (deprecated in Click 8.5); click's test
    # runner swaps sys.stdin as well.
    stdin = sys.stdin
    if stdin.isatty():
        entered: str = click.prompt("API key", hide_input=True)
        return entered.strip()
    words = stdin.read().split()
    if len(words) != 1:
        what = "nothing" if not words else f"{len(words)} words"
        raise CommandError(
            f"expected one API key on standard input, got {what}",
            ExitCode.INVALID,
            "invalid input",
        )
    return words[0]


async def _lookup(store: Store, key_hash: str) -> tuple[APIKey | None, bool]:
    """Return the key with this hash, if any, and whether it validates."""
    # The verdict comes from validate_key, the path the service authenticates with;
    # the lookup by hash only explains a refusal.
    valid = await store.validate_key(key_hash)
    if valid is not None:
        return valid, True
    try:
        return await store.get_key_by_hash(key_hash), False
    except NotFoundError:
        return None, False


@keys.command()
@store_options
@pass_settings
def check(settings: Settings) -> None:
    """Read a key from stdin and say whether it is valid, revoked or unknown.

    Prints the verdict and the key's tenant; exits with 0 when valid, 5 when revoked,
    3 when unknown. The key is never echoed or stored.
    """
    key_hash = hash_key(_read_key())
    key, valid = run(settings, lambda store: _lookup(store, key_hash))
    if key is None:
        verdict, code = "unknown", ExitCode.NOT_FOUND
    elif valid:
        verdict, code = "valid", ExitCode.OK
    else:
        verdict, code = "revoked", ExitCode.CONFLICT
    if settings.json:
        emit_json(
            {
                "status": verdict,
                "tenant_id": None if key is None else key.tenant_id,
                "key": None if key is None else record_json(key),
            }
        )
    elif key is None:
        click.echo("unknown: no key has this hash")
    else:
        click.echo(f"{verdict}: key of tenant {text(key.tenant_id)}")
        emit_details(
            [
                ("id", key.id),
                ("tenant", key.tenant_id),
                ("name", key.name),
                ("created", key.created_at),
                ("revoked", key.revoked_at),
            ]
        )
    # The verdict is the answer a script tests, so it is also the exit status.
    if code:
        raise click.exceptions.Exit(int(code))
