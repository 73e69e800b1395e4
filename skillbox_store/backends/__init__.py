"""The built-in backends, one subpackage each; reach them through `open_store`."""
