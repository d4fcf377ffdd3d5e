"""Run the command line as ``python -m glide_memory.cli``, the same as ``python -m glide_memory``."""

import sys

from glide_memory.cli import main

sys.exit(main())
