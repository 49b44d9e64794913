"""The ``cardops`` admin CLI."""
