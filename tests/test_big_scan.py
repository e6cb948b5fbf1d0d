"""A4 at 300 dpi through ``fastshade shade``: a correctness check with a memory bound (issue 21).

The smaller sibling of ``fastshade bench --scan`` (A4 at 600 dpi): the generated line drawing at
2480 x 3508 (8.7 Mpx) is shaded once, on two threads, by the job of ``fastshade shade`` in a
fresh worker (:func:`fastshade.bench.scan.run_scan`).  The job must finish with an image of the
input's size and shadows, and its peak RSS over the RSS after import must stay within the memory
model behind ``--max-pixels`` (:func:`fastshade.io.estimate_bytes`): a bound, not a timing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fastshade.bench.scan import run_scan
from fastshade.io import estimate_bytes
from fastshade.options import ShadeOptions

A4_300DPI = (3508, 2480)
"""``(H, W)`` of A4 portrait at 300 dpi."""

NEEDS_BYTES_PER_PIXEL = 1000
"""Free memory the test asks for before it starts (the measured peak is ~300 B/px, the model ~550)."""


def _available_bytes() -> int:
    """``MemAvailable`` of ``/proc/meminfo`` (0 where there is none)."""
    try:
        with open("/proc/meminfo") as fh:
            return next(int(line.split()[1]) * 1024 for line in fh if line.startswith("MemAvailable:"))
    except (OSError, StopIteration):
        return 0


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux's resettable peak RSS")
@pytest.mark.skipif(_available_bytes() < NEEDS_BYTES_PER_PIXEL * A4_300DPI[0] * A4_300DPI[1],
                    reason="less than ~9 GB of free memory")
def test_a4_300dpi_shades_within_the_memory_model():
    h, w = A4_300DPI
    (record,) = run_scan(A4_300DPI, [2])
    assert record["status"] == "ok", record["message"]
    assert record["output_shape"] == [h, w]
    assert record["shadow_components"] > 0
    sizes = [size for size, _ in record["basis_levels"]]
    assert sizes[-1] == h * w and sizes == sorted(sizes)  # coarse to fine, ending at the pixels
    estimate = estimate_bytes(h, w, ShadeOptions())
    assert 0 < record["peak_rss_increase_bytes"] <= estimate, (record["peak_rss_increase_bytes"], estimate)


COLUMN_FIELD = {"style": "v12", "field": "column"}
"""A basis-column gating field: its subspace contract peaked at 687 B/px at A4 (7 December), over
the 552 the model gave it when it counted its pixel level's start only; it is now counted as
iterating at every size."""


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux's resettable peak RSS")
@pytest.mark.skipif(_available_bytes() < 1400 * A4_300DPI[0] * A4_300DPI[1],
                    reason="less than ~12 GB of free memory")
def test_a4_300dpi_with_the_column_field_stays_within_the_memory_model():
    h, w = A4_300DPI
    (record,) = run_scan(A4_300DPI, [2], COLUMN_FIELD)
    assert record["status"] == "ok", record["message"]
    assert record["options"]["style"] == "v12" and record["options"]["field"] == "column"
    estimate = estimate_bytes(h, w, ShadeOptions(**COLUMN_FIELD))
    assert estimate > estimate_bytes(h, w, ShadeOptions(style="v12"))  # counted as iterating
    assert 0 < record["peak_rss_increase_bytes"] <= estimate, (record["peak_rss_increase_bytes"], estimate)
