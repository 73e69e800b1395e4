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
    if parts.password is None:
        return text
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{user}:***@{host}" + (f":{port}" if port is not None else "")
    return urlunsplit(parts._replace(netloc=netloc))
