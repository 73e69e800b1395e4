"""``python -m skillbox_store``: the same command line as ``skillbox-store``."""

from __future__ import annotations

from skillbox_store.cli import main

if __name__ == "__main__":
    main()
