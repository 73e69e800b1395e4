"""The contract suite of `skillbox_store`: every backend, built-in or third-party, must pass it.

Run it against any store URL; the suite reaches backends only through
`skillbox_store.open_store`, so a backend registered by entry point is tested exactly
like a built-in one::

    pytest contract_tests --store-url memory://          # from a checkout
    python -m contract_tests --store-url mystore://host/db   # the installed package
    pytest -p contract_tests.plugin --pyargs contract_tests --store-url mystore://host/db

(An installed package's conftest is read too late for ``--store-url``, hence the
explicit plugin; see `contract_tests.plugin`.)

Without ``--store-url`` it runs on every built-in backend that can run here (memory,
SQLite file, SQLite ``:memory:``, PostgreSQL); ``SKILLBOX_CONTRACT_BACKENDS=memory,sqlite-file``
narrows that set. ``HYPOTHESIS_PROFILE`` picks ``dev`` (default), ``ci`` or ``nightly``.

The suite needs no clean database: every test works in fresh, randomly named tenants
with unique key hashes, and never truncates or drops anything.
"""
