"""Lifting: the lifting helper, the lifted transforms, control flow, ``layer_stack``.

``lift`` runs a function in an inner frame; ``transforms`` (vmap, scan, grad...),
``control_flow`` and ``layer_stack`` are built on it.
"""
