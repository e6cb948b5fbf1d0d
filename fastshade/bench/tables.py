"""Figures as text: seconds, ratios, megabytes and load averages; aligned and Markdown tables."""

from __future__ import annotations

from typing import Any


def fmt_seconds(t: float | None) -> str:
    """``0.0123`` -> ``"12.3 ms"`` (us below a millisecond, s from one second); ``None`` -> ``"-"``."""
    if t is None:
        return "-"
    if t < 1e-3:
        return f"{t * 1e6:.0f} us"
    if t < 1.0:
        return f"{t * 1e3:.1f} ms"
    return f"{t:.2f} s"


def fmt_ratio(x: float | None) -> str:
    """Format a speed-up factor with two significant figures or so (``"12x"``, ``"2.1x"``, ``"0.28x"``)."""
    if x is None:
        return "-"
    return f"{x:.0f}x" if x >= 10 else (f"{x:.1f}x" if x >= 1 else f"{x:.2f}x")


def fmt_load(machine: dict[str, Any], when: str) -> str:
    """Format the 1/5/15-minute load averages recorded ``when`` ("before" or "after") the run."""
    load = (machine.get("load_average") or {}).get(when)
    return "/".join(f"{x:.2f}" for x in load) if load else "-"


def fmt_mb(b: int | None) -> str:
    """Bytes as whole megabytes (MiB)."""
    return "-" if b is None else f"{b / 2**20:.0f} MB"


def text_table(header: list[str], rows: list[list[str]], align: str) -> str:
    """Format a plain-text table with a dashed rule; ``align`` has one letter per column, ``l`` or ``r``."""
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) if rows else len(header[i])
              for i in range(len(header))]

    def line(cells: list[str]) -> str:
        cols = zip(cells, widths, align, strict=True)
        return "  ".join(c.ljust(wd) if a == "l" else c.rjust(wd) for c, wd, a in cols)

    return "\n".join([line(header), line(["-" * wd for wd in widths])] + [line(r) for r in rows])


def md_table(header: list[str], rows: list[list[str]], align: str = "") -> str:
    """Markdown table; ``align`` has one letter per column, ``l`` or ``r`` (default: first l, rest r)."""
    align = align or "l" + "r" * (len(header) - 1)
    marks = ["---" if a == "l" else "---:" for a in align]
    return "\n".join("| " + " | ".join(r) + " |" for r in [header, marks] + rows)
