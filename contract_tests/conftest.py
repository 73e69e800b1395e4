"""Load the suite's pytest plugin and Hypothesis profiles when run from a checkout."""

from __future__ import annotations

import sys

# Registers the Hypothesis profiles and loads HYPOTHESIS_PROFILE (default dev).
from contract_tests import profiles  # noqa: F401

# When the plugin was loaded with `-p contract_tests.plugin` (the installed-package way,
# see `contract_tests.plugin`), registering its hooks again would add --store-url twice.
if "contract_tests.plugin" not in sys.modules:
    from contract_tests.plugin import (  # noqa: F401
        harness,
        postgres_url,
        pytest_addoption,
        pytest_collection_modifyitems,
        pytest_configure,
        pytest_generate_tests,
        pytest_report_header,
        pytest_terminal_summary,
        require_capability,
        sqlite_dir,
        store_url,
    )
