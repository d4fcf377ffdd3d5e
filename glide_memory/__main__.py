"""Run the command line: ``python -m glide_memory``."""

import sys

from glide_memory.cli import main

sys.exit(main())
