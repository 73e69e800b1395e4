"""What the sdist and the wheel carry: the license, the docs the README links, the code.

Built with the build backend itself (hatchling, a dev dependency), from the checkout,
into a temporary directory: no network and no isolated build environment.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import skillbox_store

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[set[str], set[str], str]:
    """Build both; return the sdist's member names, the wheel's and its METADATA."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-d", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    with tarfile.open(sdist) as archive:
        # Without the leading "skillbox_store-<version>/".
        sdist_names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    with zipfile.ZipFile(wheel) as archive:
        wheel_names = set(archive.namelist())
        (metadata_name,) = (n for n in wheel_names if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(metadata_name).decode()
    return sdist_names, wheel_names, metadata


def test_the_wheel_carries_the_license_and_the_code(built: tuple[set[str], set[str], str]) -> None:
    _, wheel, metadata = built
    version = skillbox_store.__version__
    assert f"skillbox_store-{version}.dist-info/licenses/LICENSE" in wheel
    assert "License-Expression: MIT" in metadata
    assert f"Version: {version}" in metadata
    for name in (
        "skillbox_store/py.typed",
        "skillbox_store/testing.py",
        "skillbox_store/migrations/sqlite/0001_initial.sql",
        "skillbox_store/migrations/postgres/0001_initial.sql",
        "contract_tests/plugin.py",
    ):
        assert name in wheel, name


def test_the_sdist_carries_license_docs_and_tests(built: tuple[set[str], set[str], str]) -> None:
    sdist, _, _ = built
    expected = {"LICENSE", "README.md", "pyproject.toml", "skillbox_store/__init__.py"}
    expected |= {str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md")}
    assert expected <= sdist, expected - sdist
    assert any(name.startswith("tests/") for name in sdist)


def test_the_license_is_mit_for_skillbox() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License")
    assert "Copyright (c) 2026 Skillbox" in text
