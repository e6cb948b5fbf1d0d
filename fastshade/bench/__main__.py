"""``python -m fastshade.bench --worker CONFIG.json OUT.json``: the benchmark worker process."""

import sys

from fastshade.bench.worker import worker_main

if len(sys.argv) == 4 and sys.argv[1] == "--worker":
    sys.exit(worker_main(sys.argv[2:]))
sys.exit("usage: python -m fastshade.bench --worker CONFIG.json OUT.json (internal; use 'fastshade bench')")
