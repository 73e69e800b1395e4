"""Key material matches what the Go service minted."""

from __future__ import annotations

import hashlib
import re

from skillbox_store import generate_key, hash_key


def test_generate_key() -> None:
    plaintext, key_hash = generate_key()
    assert re.fullmatch(r"sk-[0-9a-f]{48}", plaintext)
    assert key_hash == hashlib.sha256(plaintext.encode()).hexdigest() == hash_key(plaintext)
    assert generate_key()[0] != plaintext
