"""``python -m minihaiku.core plugins [--json]``: list the initializer plugins."""

from minihaiku.core._plugins.cli import module_main

if __name__ == "__main__":
    raise SystemExit(module_main())
