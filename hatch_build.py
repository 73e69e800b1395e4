"""Hatch build hook: the contract suite of an editable install, under its installed name.

The wheel installs the checkout's ``contract_tests/`` as ``skillbox_store_contract_tests``
(pyproject's ``sources``), a name an application's own ``contract_tests`` cannot shadow.
An editable install puts the checkout on ``sys.path`` instead of copying files, which
would give only the directory's name; hatchling cannot rename a package there (its
editable modes refuse a ``sources`` rewrite that changes a prefix). So for editable
builds this hook installs an import finder that serves ``skillbox_store_contract_tests``
from the checkout's directory: ``python -m skillbox_store_contract_tests`` runs what is
in the checkout now, as it would from the wheel.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

INSTALLED_NAME = "skillbox_store_contract_tests"

_FINDER_MODULE = f"_{INSTALLED_NAME}_editable"

# Found by a finder, not written as a package whose __path__ points at the checkout:
# pytest's --pyargs looks where the package's spec says it is, without importing it.
_FINDER = '''"""Import skillbox_store_contract_tests from {suite} (an editable install).

Written by hatch_build.py; a .pth line installs the finder at start-up.
"""

import importlib.abc
import importlib.util
import sys

_NAME = {name!r}
_SUITE = {suite!r}


class _SuiteFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname != _NAME:
            return None
        return importlib.util.spec_from_file_location(
            fullname, _SUITE + "/__init__.py", submodule_search_locations=[_SUITE]
        )


sys.meta_path.append(_SuiteFinder())
'''


class SuiteFinderHook(BuildHookInterface):  # type: ignore[type-arg]
    """Make an editable install serve ``skillbox_store_contract_tests`` from the checkout."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """For an editable wheel, write the finder and the .pth line that installs it."""
        if self.target_name != "wheel" or version != "editable":
            return
        suite = Path(self.root).resolve() / "contract_tests"
        self._work = tempfile.mkdtemp(prefix="skillbox-suite-finder-")
        finder = Path(self._work) / f"{_FINDER_MODULE}.py"
        finder.write_text(_FINDER.format(name=INSTALLED_NAME, suite=str(suite)), "utf-8")
        pth = Path(self._work) / f"{_FINDER_MODULE}.pth"
        pth.write_text(f"import {_FINDER_MODULE}\n", "utf-8")
        # Replaces the configured force-include for this build: docs/contract.md need not
        # be copied, the suite finds it in the checkout.
        build_data["force_include_editable"] = {
            str(finder): finder.name,
            str(pth): pth.name,
        }

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        """Remove the temporary directory of the written files."""
        work = getattr(self, "_work", None)
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
