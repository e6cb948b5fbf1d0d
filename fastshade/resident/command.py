"""Show, start or stop the resident process that makes `fastshade shade` start at once.

After a `fastshade shade` has run in its own process, it starts a resident process in the
background: it keeps NumPy, SciPy, Numba and the compiled kernels loaded and runs each later
`fastshade shade` of the same installation (same Python, same fastshade files, same thread
settings) itself, with the same output bytes; one at a time (a shade that comes while it is busy
runs in its own process).  It ends after 15 minutes
without a request.  FASTSHADE_RESIDENT=0 turns it off.

examples:
  fastshade resident status             # is one listening, and where
  fastshade resident start --idle 3600  # start one now (and keep it an hour)
  fastshade resident stop               # end it
"""  # noqa: D405, D406, D407 (the command's --help text: "examples:" is not a numpydoc section)

from __future__ import annotations

import argparse
import sys
import time

from fastshade.resident import client


def configure(p: argparse.ArgumentParser) -> None:
    """Add the ``resident`` arguments to ``p``."""
    p.add_argument("action", choices=["status", "start", "stop"],
                   help="status: say whether one listens; start: start one unless one listens "
                        "(waits until it is ready); stop: end it")
    p.add_argument("--idle", type=float, default=client.IDLE_SECONDS, metavar="S",
                   help=f"start: end after S seconds without a request (default {client.IDLE_SECONDS:g})")


def main(args: argparse.Namespace) -> int:
    """``fastshade resident ACTION``: returns 0, or 1 when the action could not be done."""
    if not client.enabled():
        print(f"fastshade resident: off ({client.SWITCH}=0)", file=sys.stderr)
        return 1 if args.action == "start" else 0
    path = client.socket_path()
    if path is None:
        print("fastshade resident: no private folder for its socket (set FASTSHADE_RESIDENT_DIR)",
              file=sys.stderr)
        return 1
    answer = client.ask({"status": True}, path)
    if args.action == "status":
        if answer is None:
            print(f"fastshade resident: none listening on {path}")
        else:
            running = ", one running now" if answer["running"] else ""
            print(f"fastshade resident: pid {answer['pid']} listening on {path}, {answer['served']} served"
                  f"{running}, ends after {answer['idle']:g} s idle")
        return 0
    if args.action == "stop":
        if answer is None:
            print("fastshade resident: none was listening")
            return 0
        client.ask({"stop": True}, path)
        print(f"fastshade resident: stopped pid {answer['pid']}")
        return 0
    if answer is not None:
        print(f"fastshade resident: pid {answer['pid']} already listening on {path}")
        return 0
    pid = client.start_in_background(idle=args.idle)
    deadline = time.monotonic() + 120.0  # a cold kernel cache compiles first
    while time.monotonic() < deadline:
        answer = client.ask({"status": True}, path)
        if answer is not None:
            print(f"fastshade resident: pid {answer['pid']} listening on {path}")
            return 0
        time.sleep(0.1)
    print(f"fastshade resident: pid {pid} did not start listening within 120 s; see "
          f"{path.with_suffix('.log')}", file=sys.stderr)
    return 1
