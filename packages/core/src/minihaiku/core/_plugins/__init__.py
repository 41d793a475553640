"""The initializer plugin system, by role (as pluggy names its files).

``contract``: hook spec, markers, constants and report types; ``checks``: what a
plugin must satisfy; ``registry``: the ``Registry`` (loading, strict mode,
lookup); ``default``: the process-wide registry and its functions; ``cli``:
``python -m minihaiku.core plugins`` / ``minihaiku-plugins``.
"""
