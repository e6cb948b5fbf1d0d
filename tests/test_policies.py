"""The one-place policies: seeds (fastshade.seeds) and threads (fastshade.threads)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from fastshade.seeds import seeded_generator
from fastshade.threads import THREAD_VARIABLES, available_cores, limit_threads, thread_environment

ROOT = Path(__file__).resolve().parents[1]


def test_seeded_generator_keeps_todays_streams():
    # the documented streams: (seed,) is default_rng(seed); (seed, y0, x0) is default_rng([seed, y0, x0])
    np.testing.assert_array_equal(seeded_generator(42).standard_normal(7),
                                  np.random.default_rng(42).standard_normal(7))
    np.testing.assert_array_equal(seeded_generator(42, 16, 32).choice([-1.0, 1.0], size=8),
                                  np.random.default_rng([42, 16, 32]).choice([-1.0, 1.0], size=8))
    assert not np.array_equal(seeded_generator(42, 0, 16).standard_normal(8),
                              seeded_generator(42, 16, 0).standard_normal(8))


def test_thread_environment_pins_blas_to_one_and_numba_to_the_count():
    env = thread_environment(3)
    assert env["NUMBA_NUM_THREADS"] == "3"
    assert all(env[name] == "1" for name in THREAD_VARIABLES)
    assert "NUMBA_NUM_THREADS" not in thread_environment()
    assert available_cores() >= 1


def test_limit_threads_limits_blas_and_restores_it():
    from threadpoolctl import threadpool_info

    def blas_threads():
        return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]

    before = blas_threads()
    with limit_threads(1):
        assert all(n == 1 for n in blas_threads())
    assert blas_threads() == before


def test_the_command_line_pins_blas_before_numpy_loads():
    code = ("import os, sys\nfrom fastshade import cli\n"
            "assert 'numpy' not in sys.modules, 'the package must not load NumPy on import'\n"
            "print(os.environ['OPENBLAS_NUM_THREADS'], os.environ['OMP_NUM_THREADS'])\n")
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["1", "1"]


_LIBRARY_DIGEST = (
    "import hashlib, json, sys\n"
    "import numpy as np\n"
    "from threadpoolctl import threadpool_info\n"
    "import fastshade\n"
    "blas = [p['num_threads'] for p in threadpool_info() if p['user_api'] == 'blas']\n"
    "for basis in ('krylov', 'lobpcg'):\n"
    "    image, stats = fastshade.shade(sys.argv[1], options={'basis': basis})\n"
    "    q = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)\n"
    "    values = hashlib.md5(json.dumps(stats['basis']['values']).encode()).hexdigest()\n"
    "    print(basis, max(blas), values, hashlib.md5(q.tobytes()).hexdigest())\n"
)


def test_the_library_gives_the_same_bytes_whatever_the_blas_threads_and_as_the_cli(tmp_path):
    """fastshade.shade pins BLAS itself: 1 or 2 BLAS threads in the caller's environment give the
    same basis (to the last bit), the same image, and the image the command line writes. Before
    the library pinned them, 2 BLAS threads changed the eigenvalues of both bases on this demo."""
    import hashlib

    import imageio.v3 as iio

    from fastshade.demo import demo_image
    from fastshade.io import write_image

    src = tmp_path / "demo.png"
    write_image(src, np.clip(demo_image(256, 256), 0.0, 1.0), bit_depth=8)
    runs = {}
    for threads in ("1", "2"):
        env = dict(os.environ, OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads)
        res = subprocess.run([sys.executable, "-c", _LIBRARY_DIGEST, str(src)], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, res.stderr[-2000:]
        lines = [line.split() for line in res.stdout.splitlines()]
        assert all(blas == threads for _, blas, _, _ in lines)  # the caller really had that many
        runs[threads] = {basis: (values, image) for basis, _, values, image in lines}
    assert runs["1"] == runs["2"]
    for basis in ("krylov", "lobpcg"):
        out = tmp_path / f"cli-{basis}.png"
        res = subprocess.run([sys.executable, "-m", "fastshade", "shade", str(src), "-o", str(out), "--basis", basis],
                             cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, res.stderr[-2000:]
        assert hashlib.md5(iio.imread(out)[..., :3].tobytes()).hexdigest() == runs["1"][basis][1]
