"""Names of a package imported on first use (PEP 562), for imports that cost start-up time.

`skillbox_store` and `skillbox_store.backends.sqlite` export names whose modules import
the records (SQLModel, SQLAlchemy, pydantic: some 300 ms); the command line's ``--help``
and ``status`` must not pay for them just by importing the package
(tests/test_cli.py, tests/test_startup_imports.py).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_names"]


def lazy_names(
    namespace: dict[str, Any], modules: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return a package's ``__getattr__`` and ``__dir__`` for the names of ``modules``.

    ``namespace`` is the package's ``globals()``; ``modules`` maps each lazy name to the
    module that defines it. A name is imported at its first access and then kept in the
    namespace, so later accesses are plain lookups. Any other missing name raises
    `AttributeError`, which is also how ``from package import submodule`` learns that
    the submodule is still to be imported.
    """

    def __getattr__(name: str) -> Any:
        module_name = modules.get(name)
        if module_name is None:
            raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module_name), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *namespace.get("__all__", ())})

    return __getattr__, __dir__
