"""The contract suite of `skillbox_store`: every backend, built-in or third-party, must pass it.

It is the directory ``contract_tests/`` of a checkout and installs as the package
``skillbox_store_contract_tests`` (a name no application's own ``contract_tests`` can
shadow); its modules import each other relatively, so they work under either name.

Run it against any store URL; the suite reaches backends only through
`skillbox_store.open_store`, so a backend registered by entry point is tested exactly
like a built-in one::

    pytest contract_tests --store-url memory://          # from a checkout
    python -m skillbox_store_contract_tests --store-url mystore://host/db   # installed
    pytest -p skillbox_store_contract_tests.plugin --pyargs skillbox_store_contract_tests \
        --store-url mystore://host/db

(An installed package's conftest is read too late for ``--store-url``, hence the
explicit plugin; see `.plugin`. ``python -m`` also loads no other pytest plugin but
Hypothesis's; see `.__main__`.)

Without ``--store-url`` it runs on every built-in backend that can run here (memory,
SQLite file, SQLite ``:memory:``, PostgreSQL); ``SKILLBOX_CONTRACT_BACKENDS=memory,sqlite-file``
narrows that set. ``HYPOTHESIS_PROFILE`` picks ``dev`` (default), ``ci`` or ``nightly``.

The suite needs no clean database: every test works in fresh, randomly named tenants
with unique key hashes, and never truncates or drops anything.
"""
