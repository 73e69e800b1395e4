"""The whole contract suite passes on an adopted Go database (issue 20, item 6).

The suite runs as an operator would run it against their own store
(``python -m skillbox_store_contract_tests --store-url URL``), on the database that
tests/go_schema.py built and filled the Go way and `adopt_go_database` converted: the
adopted schema keeps every promise a freshly migrated one keeps, with the Go rows
still in it.
"""

from __future__ import annotations

import asyncio
import re

import pytest
from adopt_helpers import fresh_database
from contract_suite_run import run_contract_suite
from go_schema import build_go_database, fill

from skillbox_store import adopt_go_database

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_the_contract_suite_passes_on_an_adopted_database(postgres_url: str) -> None:
    with fresh_database(postgres_url) as url:
        build_go_database(url)
        fill(url)
        assert asyncio.run(adopt_go_database(url)).outcome == "adopted"
        run = run_contract_suite(url, timeout=3600)
        assert run.returncode == 0, run.failure()
        passed = re.search(r"(\d+) passed", run.summary)
        # The suite ran, whole: not a collection that selected nothing.
        assert passed is not None, run.failure()
        assert int(passed.group(1)) > 100, run.failure()
