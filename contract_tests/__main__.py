"""``python -m contract_tests --store-url URL [pytest options]``: run the installed suite."""

from __future__ import annotations

import sys

import pytest


def main() -> int:
    """Run the contract suite with the given pytest arguments; return pytest's exit code."""
    args = ["-p", "contract_tests.plugin", "--pyargs", "contract_tests", *sys.argv[1:]]
    return int(pytest.main(args))


if __name__ == "__main__":
    sys.exit(main())
