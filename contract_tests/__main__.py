"""``python -m contract_tests --store-url URL [pytest options]``: run the installed suite."""

from __future__ import annotations

import importlib.util
import sys

_NEEDS = "the skillbox-store contract suite needs pytest and hypothesis"
_INSTALL = "pip install 'skillbox-store[contract]'"


def _absent(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is None
    except (ImportError, ValueError):
        return True


def main() -> int:
    """Run the contract suite with the given pytest arguments; return pytest's exit code.

    Without pytest or hypothesis installed, say how to install them and return 4.
    """
    # Looked up, not imported: pytest must import hypothesis's plugin itself to
    # rewrite its asserts.
    missing = [name for name in ("pytest", "hypothesis") if _absent(name)]
    if not missing:
        try:
            import pytest
        except ImportError as exc:
            missing = [exc.name or "pytest"]
    if missing:
        print(f"{_NEEDS} ({', '.join(missing)} not installed): {_INSTALL}", file=sys.stderr)
        return 4
    args = ["-p", "contract_tests.plugin", "--pyargs", "contract_tests", *sys.argv[1:]]
    return int(pytest.main(args))


if __name__ == "__main__":
    sys.exit(main())
