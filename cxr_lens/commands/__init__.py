"""Sub-commands of ``cxr-lens``; each module has ``register(subparsers)`` that sets ``func``."""
