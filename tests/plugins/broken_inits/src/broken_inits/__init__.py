"""A plugin that fails to import: minihaiku must report it and keep working."""

raise RuntimeError("broken_inits is broken on purpose")
