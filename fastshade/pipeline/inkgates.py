"""The spectral gates of a drawing read through the paper/ink model (for the styles other than v12).

:func:`ink_analysis` is :func:`fastshade.pipeline.shader.analyse` on the paper/ink model
(:mod:`fastshade.pipeline.paper`): the graph is built on the polarity-free carrier, the gates
split the artist's strokes (the ink, less the marks an earlier pass of the style painted in its
palette), and the low-gate segments are the 8-connected pieces of the low gate.  It skips what
the styles do not read (the void direction and its heat field); the basis's subspace contract is
checked where v12 checks it (:func:`fastshade.pipeline.shader.basis_use`: a basis-column field).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from fastshade.heap import pool_up_to_peak
from fastshade.options import ShadeOptions
from fastshade.pipeline.components import Components, label_components
from fastshade.pipeline.fields import HeatOperator, gating_field
from fastshade.pipeline.gates import contour_gates
from fastshade.pipeline.graph import diagonal_storage, image_laplacian
from fastshade.pipeline.palette import Palette, derive_palette, dominant_ink, mark_mask
from fastshade.pipeline.paper import PaperInk, paper_ink_model
from fastshade.pipeline.resolution import coarse_field
from fastshade.pipeline.results import Timer
from fastshade.pipeline.shader import basis_use
from fastshade.spectral import SpectralBasis, spectral_basis


@dataclass
class InkAnalysis:
    """What a style reads of one image before painting (arrays are (H, W))."""

    rgb: np.ndarray
    """(H, W, 3) float64 in [0, 1]."""
    model: PaperInk
    palette: Palette
    strokes: np.ndarray
    """bool: the artist's ink (the model's ink less the palette's marks)."""
    marks: np.ndarray
    """bool: pixels in exactly a palette colour (an earlier pass's marks)."""
    basis: SpectralBasis | None
    field: np.ndarray
    high: np.ndarray
    low: np.ndarray
    components: Components
    energy: np.ndarray | None = None
    """(H*W,) the thicken budget's basis energy, interpolated, when ``basis`` is on a coarser grid
    (``scale`` > 1, :func:`fastshade.pipeline.resolution.coarse_field`); None: read ``basis`` (its
    columns, or its own :attr:`~fastshade.spectral.SpectralBasis.energy`:
    :func:`fastshade.pipeline.shading.basis_budget`)."""

    @property
    def shape(self) -> tuple[int, int]:
        """``(H, W)``."""
        return self.strokes.shape  # type: ignore[return-value]


def ink_analysis(rgb: np.ndarray, alpha: np.ndarray | None, opts: ShadeOptions, timer: Timer,
                 palette: str = "dusk", min_segment: int | None = None,
                 hue_source: np.ndarray | None = None, scale: float = 1.0, drawing: PaperInk | None = None,
                 drawing_is_input: bool = False, basis: SpectralBasis | None = None) -> InkAnalysis:
    """Paper/ink model, palette, basis, gating field, gates and low-gate segments of ``rgb``.

    Stages are timed as ``fields``, ``laplacian``, ``basis``, ``gates`` and ``components``
    (the names of :func:`fastshade.pipeline.shader.analyse`).  A drawing without ink, or too
    small for a graph, gets empty gates and no basis.  ``hue_source``: a colour whose hue the
    palette takes (:func:`fastshade.pipeline.palette.palette_hue`).  ``scale`` > 1: the basis and
    the field come from the carrier on a grid ``scale`` times coarser
    (:func:`fastshade.pipeline.resolution.coarse_field`); gates and segments stay at full resolution.
    ``drawing``: the model of the drawing the passes started from
    (:attr:`fastshade.styles.base.PassStep.drawing`): used as is when ``drawing_is_input`` (it is
    this image's model), else its paper is kept (``paper_from``).  ``basis``: a basis of the same
    (coarse) grid to read instead of solving one (a later pass reads the drawing's: brush).
    """
    h, w = rgb.shape[:2]
    with timer.stage("fields"):
        model = (drawing if drawing is not None and drawing_is_input
                 else paper_ink_model(rgb, alpha, paper_from=drawing))
        paper = np.asarray(model.paper)
        pal = derive_palette(dominant_ink(rgb, model.ink, paper), paper, palette, hue_source)
        marks = mark_mask(rgb, pal, model.ink)
        strokes = model.ink & ~marks
    if not strokes.any() or h * w < 4:
        zeros = np.zeros((h, w))
        empty = label_components(np.zeros((h, w), dtype=bool), connectivity=8, min_size=1)
        none = np.zeros((h, w), dtype=bool)
        return InkAnalysis(rgb, model, pal, strokes, marks, None, zeros, none, none.copy(), empty)
    graph = opts.graph()

    given = basis
    # only the thicken budget reads the basis, as the energy of its columns 2..: at full
    # resolution the basis returns that energy alone (not the (H*W, k) columns, 64 B a pixel
    # through the fields, the line weight and the shadows; the same sums)
    energy_only = basis_use(opts) is None and scale <= 1.0

    def smooth(carrier: np.ndarray) -> tuple[np.ndarray, SpectralBasis]:
        """The basis and the gating field of ``carrier`` (the model's, or its coarse grid's)."""
        with timer.stage("laplacian"):
            lap = image_laplacian(carrier, **graph)
        # the diagonal storage: the Lanczos mat-vecs and the gating field's diffusion (dither: too
        # wide); formed after an LOBPCG basis, which does not read it (as shader.analyse: not alive
        # at the basis's memory peak)
        grid = opts.laplacian == "grid"
        diagonals = None
        if grid and opts.basis == "krylov" and given is None:
            with timer.stage("fields"):
                diagonals = diagonal_storage(lap)
        if given is not None and given.shape == carrier.shape:
            basis = given
        else:
            with timer.stage("basis"):
                basis = spectral_basis(carrier, method=opts.basis, k=opts.k, **graph,
                                       tile_size=opts.tile_size, tile_overlap=opts.tile_overlap,
                                       seed=opts.seed, krylov_steps=opts.krylov_steps, tol=opts.tol,
                                       laplacian=lap, diagonals=diagonals,
                                       contract="check" if basis_use(opts) else "off",
                                       energy_only=energy_only,
                                       # (a big image's lap is emptied while the coarse levels
                                       # are solved, and formed again: 64 B a pixel less there)
                                       laplacian_reform=partial(image_laplacian, carrier, **graph))
            pool_up_to_peak()  # (the stages after the basis need less memory than it did)
        with timer.stage("fields"):
            if grid and diagonals is None:
                diagonals = diagonal_storage(lap)
            operator = HeatOperator(lap, opts, diagonals)
            del lap  # a grid's heat steps read the diagonal storage alone: the CSR is not alive
            # through them (64 B a pixel)
            return gating_field(None, basis, carrier.shape, opts, operator=operator), basis

    field, basis, energy = coarse_field(model.carrier, scale, smooth)
    with timer.stage("gates"):
        high, low = contour_gates(field, strokes, opts.gate_gain, opts.gamma_h, opts.bias_h,
                                  opts.gamma_l, opts.bias_l)
    with timer.stage("components"):
        comps = label_components(low, connectivity=8,
                                 min_size=opts.min_component if min_segment is None else min_segment)
    return InkAnalysis(rgb, model, pal, strokes, marks, basis, field, high, low, comps, energy)


def ink_colour(rgb: np.ndarray, alpha: np.ndarray | None = None) -> np.ndarray:
    """The dominant ink colour of an image (its paper colour when it has no ink)."""
    model = paper_ink_model(rgb, alpha)
    return dominant_ink(rgb, model.ink, np.asarray(model.paper))
