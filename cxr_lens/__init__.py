"""The ``cxr-lens`` command line: one front end over the engine (the viewer is the other)."""
