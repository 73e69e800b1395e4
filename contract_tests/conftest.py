"""Load the suite's pytest plugin and Hypothesis profiles when run from a checkout."""

from __future__ import annotations

import sys

# Registers the Hypothesis profiles and loads HYPOTHESIS_PROFILE (default dev).
from . import profiles  # noqa: F401

# When the plugin was loaded with `-p skillbox_store_contract_tests.plugin` (the installed
# way, see `.plugin`), registering its hooks again would add --store-url twice. It may
# go by the installed name while this module goes by the directory's: an editable
# install's `--pyargs` finds the suite in the checkout, where pytest names it
# `contract_tests`.
_PLUGIN_NAMES = {f"{__package__}.plugin", "skillbox_store_contract_tests.plugin"}
if not _PLUGIN_NAMES & sys.modules.keys():
    from .plugin import (  # noqa: F401
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
