"""Store URLs: their scheme, and a form of them safe to show a person."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

__all__ = ["redact_url", "url_scheme"]

# key=value passwords in a libpq keyword string or a query (`password=…`).
_PASSWORD_PARAM = re.compile(r"(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]*)")


def url_scheme(url: str) -> str:
    """Return the lower-cased scheme of ``url``, or "" when it has none."""
    head, sep, _ = url.partition(":")
    if not sep or not head or not head.replace("+", "").replace("-", "").isalnum():
        return ""
    return head.lower()


def redact_url(url: str) -> str:
    """Return ``url`` with any password replaced by ``***``, for messages and logs."""
    text = _PASSWORD_PARAM.sub(r"\1***", url)
    try:
        parts = urlsplit(text)
    except ValueError:
        # An unparsable netloc may still hold "user:secret@": cut everything before "@".
        return re.sub(r"//[^/@]*@", "//***@", text)
    userinfo, at, hosts = parts.netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return text
    # Only the password goes: every host and port of a multi-host URL
    # (``h1:5432,h2:5433``) stays, as written, for the reader to know which servers.
    user = userinfo.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hosts}"))
