"""flowkit's built-in components, installed as the package ``flowkit_builtins``.

Each module is a plugin of the ``flowkit`` entry-point group, registered exactly as a
third-party plugin would be, and uses only flowkit's public API.
"""
