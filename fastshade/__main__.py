"""``python -m fastshade``: the same command line as ``fastshade``."""

import sys

from fastshade.cli import entry

sys.exit(entry())
