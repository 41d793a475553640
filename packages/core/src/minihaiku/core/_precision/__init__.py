"""Mixed precision: ``Policy``, the policy scopes and the table applying them.

``policy`` is the type, ``scope`` sets and reads policies, ``table`` applies them
to module methods and to the dtype of new parameters.
"""
