"""The ``skillbox-store`` command line: migrate and check a store, manage API keys,
inspect a tenant's records, on any backend URL.

Modules: `app` (the command group and `main`), `runner` (settings, opening the store,
exit codes), `output` (JSON and tables), and one module per family of commands
(`admin`, `keys`, `records`). Commands reach backends only through `open_store`,
except ``status`` on SQLite, which reads through `skillbox_store.backends.sqlite.probe` so as
not to import the records (issue #22: it would start several times slower).
"""

from __future__ import annotations

from skillbox_store.cli.app import cli, main
from skillbox_store.cli.runner import ExitCode

__all__ = ["ExitCode", "cli", "main"]
