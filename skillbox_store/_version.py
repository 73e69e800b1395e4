"""The version of skillbox-store: the one place it is written (pyproject.toml reads it)."""

from __future__ import annotations

__all__ = ["__version__"]

# Read by hatch at build time, whose pattern wants this exact unannotated form, and by
# `skillbox-store --version`, which so avoids importlib.metadata's scan of every
# installed distribution.
__version__ = "0.1.0"
