"""Measure why cross mode fragments, and compare the cross strategies.

Runs self mode and a ladder of cross strategies on one target (and sample) with
the same spectral analysis, measures every placement (original-system.md §7:
placed components and sizes, retention, run length along the principal axis,
fragments per placement, reuse entropy, size ratio, score margin, self/cross
parity) and writes, into DIR:

  report.json     every metric for self and each strategy, the acceptance goal,
                  parity (when SAMPLE is omitted or equals TARGET), affinity stats
  affinity.png    affinity histograms, self vs cross (the handoff's test D)
  strategies.png  contact sheet: input, self, each strategy, metrics under each

and prints a table.  The figures need matplotlib (pip install 'fastshade[plots]');
without it only report.json is written.  Without SAMPLE the target is its own
sample through the cross code path: the parity test of every strategy.

Strategy specs (--strategy, repeatable) are NAME[,key=value...] with NAME one of
unified, recolor, warp, gate-only and keys score, affinity (affinity-threshold),
procrustes, scale (scale-normalise); unspecified keys come from the shader flags.

examples:
  fastshade diagnose toof.png snek-heavy.png -o diag/
  fastshade diagnose toof.png -o parity/                       # sample = target
  fastshade diagnose toof.png snek-heavy.png -o d/ --grid      # every toggle combination
  fastshade diagnose toof.png snek-heavy.png -o d/ --rounding half-even   # original's rounding
  fastshade diagnose toof.png snek-heavy.png -o d/ --basis krylov \\
      --strategy unified --strategy warp,score=signature,affinity=none
  # the study of docs/cross-attention.md:
  fastshade diagnose --study ../shared/images -o docs/figures \\
      --study-rounding half-up,half-even
"""  # noqa: D301, D405, D406, D407 (the --help text of the command: "examples:" is not a numpydoc section)

from fastshade.diagnose.cli import configure, main
from fastshade.diagnose.figures import MAX_FIGURE_BYTES, plot_affinity, plot_strategies
from fastshade.diagnose.outputs import write_outputs
from fastshade.diagnose.results import Diagnosis, RunRecord
from fastshade.diagnose.runner import diagnose_arrays
from fastshade.diagnose.strategies import (
    BASELINE,
    CROSS_FIELDS,
    PRESETS,
    config_label,
    grid_strategies,
    parse_strategy,
    preset_strategies,
)
from fastshade.diagnose.study import STUDY_PAIRS, rank_configs, run_study
from fastshade.diagnose.tables import format_table, study_markdown
from fastshade.pipeline.shading import ROUNDINGS

__all__ = [
    "BASELINE",
    "CROSS_FIELDS",
    "MAX_FIGURE_BYTES",
    "PRESETS",
    "ROUNDINGS",
    "STUDY_PAIRS",
    "Diagnosis",
    "RunRecord",
    "config_label",
    "configure",
    "diagnose_arrays",
    "format_table",
    "grid_strategies",
    "main",
    "parse_strategy",
    "plot_affinity",
    "plot_strategies",
    "preset_strategies",
    "rank_configs",
    "run_study",
    "study_markdown",
    "write_outputs",
]
