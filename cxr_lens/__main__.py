"""``python -m cxr_lens`` is the same as the ``cxr-lens`` script."""
import sys

from cxr_lens.cli import main

sys.exit(main())
