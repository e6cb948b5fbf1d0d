"""A resident fastshade process, so that every ``fastshade shade`` after the first starts at once.

A ``fastshade shade`` process spends about 0.7 s importing NumPy, SciPy and Numba and loading the
cached kernels before it shades anything.  The resident process (:mod:`.server`) has done that
once: it listens on a per-user Unix socket and runs each request's command line itself, with
the client's terminal (its stdin, stdout and stderr), working folder, umask and environment:
byte for byte the same output.  The client
(:mod:`.client`) imports only the standard library.

* ``fastshade shade`` uses a resident process when one is listening for this installation (the
  same Python, the same fastshade source files, the same thread environment), and otherwise
  shades in its own process and then starts one in the background (saying so once on stderr).
  It ends after :data:`.client.IDLE_SECONDS` without a request.
* ``FASTSHADE_RESIDENT=0`` turns both off; ``fastshade resident status|start|stop``.
"""
