"""The ``cxr-lens`` command line: one front end over the engine (the viewer is the other)."""

# The application's version, the same as pyproject.toml's (tests/cli/test_version.py).
__version__ = "0.1.0"
