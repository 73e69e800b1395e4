"""``python -m skillbox_store_contract_tests --store-url URL [pytest options]``: run the suite.

Equivalent to ``pytest -p skillbox_store_contract_tests.plugin --pyargs
skillbox_store_contract_tests``, with one difference: no pytest plugin is loaded but
Hypothesis's. Plugins installed for other reasons run their hooks in every pytest run
(a deprecation warning of pytest-asyncio printed ahead of the suite's one-line usage
errors, and with ``-W error`` stopped the run), and the suite needs none of them: it
drives stores on its own event loops. ``-p NAME`` loads one anyway (``-p xdist -n 4``).
"""

from __future__ import annotations

import importlib.util
import sys

_NEEDS = "the skillbox-store contract suite needs pytest and hypothesis"
_INSTALL = "pip install 'skillbox-store[contract]'"
# The suite's package: `skillbox_store_contract_tests` once installed, whatever the
# directory is called in a checkout.
_PACKAGE = (__spec__.parent if __spec__ is not None else None) or "skillbox_store_contract_tests"
# Hypothesis's pytest plugin, by its entry-point name (pytest >= 8.4 loads an entry
# point by name when autoloading is off).
_HYPOTHESIS_PLUGIN = "hypothesispytest"


def _absent(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is None
    except (ImportError, ValueError):
        return True


def pytest_args(argv: list[str]) -> list[str]:
    """Return the pytest arguments that run the suite with the user's ``argv`` appended."""
    return [
        "--disable-plugin-autoload",
        "-p",
        _HYPOTHESIS_PLUGIN,
        "-p",
        f"{_PACKAGE}.plugin",
        "--pyargs",
        _PACKAGE,
        *argv,
    ]


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
    return int(pytest.main(pytest_args(sys.argv[1:])))


if __name__ == "__main__":
    sys.exit(main())
