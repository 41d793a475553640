"""The initializer plugin system, by role (as pluggy names its files).

``contract``: hook spec, markers, constants, the ``Initializer`` and
``InitializerInfo`` types; ``report``: ``PluginStatus`` and ``RegistryReport``;
``loading``: entry points, load order, autoload and strict mode, ``PluginFailure``
records; ``checks``: what a registration must satisfy; ``registry``: the
``Registry`` (register, lookup); ``default``: the process-wide registry and the
module-level functions; ``cli``: ``python -m minihaiku.core plugins`` /
``minihaiku-plugins``.
"""
