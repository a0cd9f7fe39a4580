"""The offline executable's entry script: ``cxr-lens`` (``cxr_lens.cli.main``).

``freeze_support`` lets ``scan --workers N`` start its spawned worker processes from the frozen
executable (without it a worker would run the command line again instead of the worker).
"""
import multiprocessing
import sys

from cxr_lens.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
