"""`python -m freqvsr ...`: the `freqvsr` command (also the entry point for `torchrun -m freqvsr`)."""

import sys

from freqvsr.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
