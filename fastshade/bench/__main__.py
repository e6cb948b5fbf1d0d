"""``python -m fastshade.bench --worker CONFIG.json OUT.json`` (the benchmark worker process) or
``--scan-worker H W THREADS OUT.json CHANGES_JSON`` (one big-scan job, :mod:`fastshade.bench.scan`).
"""

import sys

if len(sys.argv) == 4 and sys.argv[1] == "--worker":
    from fastshade.bench.worker import worker_main

    sys.exit(worker_main(sys.argv[2:]))
if len(sys.argv) == 7 and sys.argv[1] == "--scan-worker":
    from fastshade.bench.scan import scan_worker

    sys.exit(scan_worker(sys.argv[2:]))
sys.exit("usage: python -m fastshade.bench --worker CONFIG.json OUT.json | "
         "--scan-worker H W THREADS OUT.json CHANGES_JSON (internal; use 'fastshade bench')")
