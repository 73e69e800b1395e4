"""API key material: plaintext keys are shown once, only their hashes are stored."""

from __future__ import annotations

import hashlib
import secrets
from typing import Final

__all__ = ["KEY_PREFIX", "generate_key", "hash_key"]

KEY_PREFIX: Final = "sk-"


def hash_key(plaintext: str) -> str:
    """Return the SHA-256 hex digest of a plaintext key, as the store keeps it.

    Stores take only such digests as a ``key_hash`` (lowercase hex, 64 characters or
    more) and refuse a plaintext key passed in its place, so no secret is ever stored.
    """
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def generate_key() -> tuple[str, str]:
    """Return a new key as ``(plaintext, key_hash)``.

    The plaintext is ``sk-`` followed by 48 hex characters from `secrets`, as the Go
    service minted them; hand it to the tenant once and store only the hash.
    """
    plaintext = KEY_PREFIX + secrets.token_hex(24)
    return plaintext, hash_key(plaintext)
