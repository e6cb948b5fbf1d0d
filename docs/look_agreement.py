"""Agreement of a fastshade output with the original's output of the same input (docs/looks.md).

    python docs/look_agreement.py INPUT OURS ORIGINAL [--json]

Reads only the three image files (8-bit).  A pixel is *changed* where any channel differs from
the input.  Reports:

* ``count_ratio``: changed pixels, ours / the original's;
* ``iou``: intersection over union of the two changed-pixel masks;
* ``hue_distance``: total-variation distance (0 = same, 1 = disjoint) between the two
  saturation-weighted 12-bin hue histograms of the changed pixels' output colours;
* ``hue_ours`` / ``hue_original``: the dominant hue of the marks in degrees (saturation-weighted
  circular mean; None for grey marks), and ``hue_gap`` between them (the issue's "within 30°").
"""

from __future__ import annotations

import argparse
import json
import sys

import imageio.v3 as iio
import numpy as np

HUE_BINS = 12


def _rgb(path: str) -> np.ndarray:
    img = iio.imread(path)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    return img[:, :, :3].astype(np.float64) / (65535.0 if img.dtype == np.uint16 else 255.0)


def hue_saturation(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """HSV hue (radians) and saturation of (N, 3) colours."""
    mx, mn = rgb.max(axis=1), rgb.min(axis=1)
    delta = mx - mn
    r, g, b = rgb.T
    safe = np.where(delta > 0, delta, 1.0)
    h = np.where(mx == r, ((g - b) / safe) % 6, np.where(mx == g, (b - r) / safe + 2, (r - g) / safe + 4))
    sat = np.where(mx > 0, delta / np.where(mx > 0, mx, 1.0), 0.0)
    return h * (np.pi / 3), sat


def dominant_hue(rgb: np.ndarray) -> float | None:
    """Saturation-weighted circular mean hue in degrees, None when the colours are grey."""
    h, s = hue_saturation(rgb)
    if s.sum() < 1e-6 * max(len(s), 1) or s.mean() < 0.05:
        return None
    ang = np.angle(np.sum(s * np.exp(1j * h)))
    return float(np.degrees(ang) % 360)


def hue_histogram(rgb: np.ndarray) -> np.ndarray:
    """Saturation-weighted hue histogram, normalised (zeros for grey colours)."""
    h, s = hue_saturation(rgb)
    hist = np.bincount(np.minimum((h / (2 * np.pi) * HUE_BINS).astype(int), HUE_BINS - 1), weights=s,
                       minlength=HUE_BINS)
    return hist / hist.sum() if hist.sum() > 0 else hist


def agreement(input_path: str, ours_path: str, original_path: str) -> dict:
    """The agreement figures of ``ours`` against ``original`` (both shaded from ``input``)."""
    src, ours, orig = _rgb(input_path), _rgb(ours_path), _rgb(original_path)
    if not src.shape == ours.shape == orig.shape:
        raise ValueError(f"shapes differ: {src.shape}, {ours.shape}, {orig.shape}")
    a = (np.abs(ours - src) > 1e-9).any(axis=2)
    b = (np.abs(orig - src) > 1e-9).any(axis=2)
    union = np.count_nonzero(a | b)
    ha, hb = hue_histogram(ours[a]), hue_histogram(orig[b])
    hue_a, hue_b = dominant_hue(ours[a]), dominant_hue(orig[b])
    gap = None if hue_a is None or hue_b is None else float(min(abs(hue_a - hue_b), 360 - abs(hue_a - hue_b)))
    return {
        "changed_ours": int(a.sum()), "changed_original": int(b.sum()),
        "count_ratio": float(a.sum() / b.sum()) if b.any() else None,
        "iou": float(np.count_nonzero(a & b) / union) if union else None,
        "hue_distance": float(0.5 * np.abs(ha - hb).sum()) if ha.sum() and hb.sum() else None,
        "hue_ours": hue_a, "hue_original": hue_b, "hue_gap": gap,
    }


def main(argv: list[str] | None = None) -> int:
    """Print the agreement of OURS with ORIGINAL (JSON or one line)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("input")
    p.add_argument("ours")
    p.add_argument("original")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    res = agreement(args.input, args.ours, args.original)
    print(json.dumps(res) if args.json else " ".join(f"{k}={v}" for k, v in res.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
