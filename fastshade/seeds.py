"""The one seed policy: every random draw of the shader comes from :func:`seeded_generator`.

``ShadeOptions.seed`` (default 42) is the only seed. Each stage that draws makes its own
generator from it, so a stage's numbers do not depend on which other stages ran or in what
order (the eigensolve is skipped for some inputs; the sample of a cross pair has its own
analysis). The streams, as they stand (changing any one changes the outputs and needs an
``OUTPUT_VERSION`` bump):

===========================================  ==========================  ==========================
stage                                        stream key                  draw
===========================================  ==========================  ==========================
heat gating field (``pipeline.fields``)      ``(seed,)``                 ``standard_normal(n)``
Krylov start vector (``spectral.krylov``)    ``(seed,)``                 ``standard_normal(n)``
cascade coarse start / padding               ``(seed,)``                 ``standard_normal((nc, m))``
(``spectral.cascade``)
tile signs (``spectral.tiles``)              ``(seed, y0, x0)``          ``choice([-1, 1], k)``
Procrustes anchors (``pipeline.cross``)      ``(seed,)``                 ``choice(n, size, False)``
===========================================  ==========================  ==========================

The heat field's noise and the Krylov start vector are the same vector: they are the two
alternative gating-field constructions (``--basis lobpcg`` uses the first, ``--basis krylov``
the second), so one run reads at most one of them unless ``--basis krylov --field heat`` is
asked for, where the Krylov basis and the field start from the same draw. Independent streams
(``SeedSequence.spawn``) would change every output; they are left for a release that changes
outputs anyway.
"""

from __future__ import annotations

import numpy as np


def seeded_generator(seed: int, *stream: int) -> np.random.Generator:
    """NumPy's default generator for ``seed`` (and the integers ``stream``, e.g. a tile's corner).

    ``seeded_generator(s)`` is ``np.random.default_rng(s)``; ``seeded_generator(s, a, b)`` is
    ``np.random.default_rng([s, a, b])``, the stream of one tile.
    """
    return np.random.default_rng([int(seed), *map(int, stream)] if stream else int(seed))
