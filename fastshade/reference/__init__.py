"""Plain NumPy/SciPy versions of the shader's stages: the one reference twin per kernel.

Each function does the job of one compiled kernel or stage, written the obvious way with
vectorised NumPy or a stock SciPy routine.  Two users, one copy: ``fastshade bench`` times them
as baselines ("how much faster than the straightforward code", so they are part of the installed
package), and the test suite checks every kernel against them.  They do little validation and
the shader never calls them.  Nothing here imports the rest of fastshade.

==========================================  ==============================================================
shader stage                                reference here
==========================================  ==============================================================
offsets, Laplacian (``pipeline.graph``)     :func:`laplacian_offset_table`, :func:`laplacian_coo` (COO -> CSR)
heat, gradients (``pipeline.graph``)        :func:`heat_diffusion_scipy`, :func:`forward_gradient_numpy`,
                                            :func:`unit_vectors_numpy`, :func:`lattice_symbol_max_numpy`
Chebyshev heat (``pipeline.chebyshev``)     :func:`chebyshev_series_scipy`, :func:`heat_series_binomial`
gates (``pipeline.gates``)                  :func:`gates_numpy`
components (``pipeline.components``)        :func:`label_components_scipy` (``ndimage.label`` + ``bincount``)
basis (``spectral.spectral_basis``)         :func:`eigsh_basis`, :func:`lobpcg_basis`, :func:`dense_spectrum_numpy`
tiles (``spectral``)                        :func:`tile_starts_numpy`, :func:`blend_weights_1d_numpy`,
                                            :func:`sign_flip_numpy`
Krylov basis (``spectral.krylov``)          :func:`krylov_basis_numpy`
thicken (``pipeline.paint.thicken``)        :func:`thickening_budget_numpy`, :func:`perpendicular_scatter_numpy`,
                                            :func:`thicken_numpy`
shadow (``pipeline.paint.shadow_self``)     :func:`hue_rotate_numpy`, :func:`place_component_numpy`,
                                            :func:`pixel_affinity_numpy`, :func:`gated_copy_numpy`,
                                            :func:`shadow_self_numpy`
==========================================  ==============================================================
"""

from fastshade.reference.components import (
    LabelResult,
    component_pixel_index_numpy,
    component_stats_numpy,
    drop_small_components,
    label_components_scipy,
    label_mask_scipy,
)
from fastshade.reference.gates import gate_agreement, gates_numpy
from fastshade.reference.graph import (
    DITHER_RADII,
    DITHER_WEIGHTS,
    chebyshev_series_scipy,
    forward_gradient_numpy,
    heat_diffusion_scipy,
    heat_series_binomial,
    laplacian_coo,
    laplacian_nnz_loop,
    laplacian_offset_table,
    lattice_symbol_max_numpy,
    unit_vectors_numpy,
)
from fastshade.reference.krylov import krylov_basis_numpy
from fastshade.reference.shading import (
    ROUNDINGS,
    gated_copy_loop,
    gated_copy_numpy,
    hue_rotate_numpy,
    perpendicular_scatter_loop,
    perpendicular_scatter_numpy,
    pixel_affinity_numpy,
    place_component_numpy,
    shadow_self_numpy,
    thicken_numpy,
    thickening_budget_numpy,
)
from fastshade.reference.spectral import (
    EigenResult,
    blend_weights_1d_numpy,
    dense_spectrum_numpy,
    eigen_residuals,
    eigsh_basis,
    lobpcg_basis,
    principal_angles,
    sign_flip_numpy,
    tile_starts_numpy,
)

__all__ = [
    "DITHER_RADII",
    "DITHER_WEIGHTS",
    "ROUNDINGS",
    "EigenResult",
    "LabelResult",
    "blend_weights_1d_numpy",
    "chebyshev_series_scipy",
    "component_pixel_index_numpy",
    "component_stats_numpy",
    "dense_spectrum_numpy",
    "drop_small_components",
    "eigen_residuals",
    "eigsh_basis",
    "forward_gradient_numpy",
    "gate_agreement",
    "gated_copy_loop",
    "gated_copy_numpy",
    "gates_numpy",
    "heat_diffusion_scipy",
    "heat_series_binomial",
    "hue_rotate_numpy",
    "krylov_basis_numpy",
    "label_components_scipy",
    "label_mask_scipy",
    "laplacian_coo",
    "laplacian_nnz_loop",
    "laplacian_offset_table",
    "lattice_symbol_max_numpy",
    "lobpcg_basis",
    "perpendicular_scatter_loop",
    "perpendicular_scatter_numpy",
    "pixel_affinity_numpy",
    "place_component_numpy",
    "principal_angles",
    "sign_flip_numpy",
    "shadow_self_numpy",
    "thicken_numpy",
    "thickening_budget_numpy",
    "tile_starts_numpy",
    "unit_vectors_numpy",
]
