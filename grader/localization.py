"""∂L/∂s_t for a submission whose contract does not return it, from its dx_t = ∂L/∂s_t·Wxᵀ.

Where Wx (D, H) has full column rank (so D ≥ H), the student's ∂L/∂s_t is recovered exactly
by least squares, ∂L/∂s_t = dx_t·(Wx⁺)ᵀ, and compared step by step as if it had been
returned. Where its rank r is below H (D < H, say), dx_t shows only the part of ∂L/∂s_t in
Wx's row space: that part is recovered and compared, and a divergence in the other H − r
directions is invisible — the localization is partial.

A recovered element diverges when it differs from the reference by more than the problem's
tolerance plus what dx's own tolerance becomes through least squares, ‖atol + rtol·|dx_ref|‖₂
/ σ_min(Wx) for its (n, t): a dx that matches never makes ∂L/∂s_t diverge.
"""
import numpy as np

from grader.compare import Comparison, blocks, diverges
from grader.results import Derivation, OutputResult

EPS = np.finfo(np.float64).eps
SYMBOL = "∂L/∂s_t"


def derived_dL_ds(exercise, dx: np.ndarray, tolerance) -> OutputResult | None:
    """The student's ∂L/∂s_t recovered from their usable dx (in the submission's layout), as
    an output worth no points; None where Wx = 0 leaves nothing to recover."""
    dx_name = exercise.call.dx
    v, out = exercise.derivation, exercise.call.outputs[dx_name]
    Wx, ds_ref, dx_ref = v["Wx"], v["dL_ds"], v["dL_dx"]
    D, H = Wx.shape
    U, S, Vt = np.linalg.svd(Wx, full_matrices=False)
    rank = int(np.sum(S[0] * max(D, H) * EPS < S))
    if rank == 0:
        return None
    row_space = Vt[:rank]                                          # (r, H), orthonormal
    dx, got = out.layout.to_reference(dx), np.empty(ds_ref.shape)
    for block in blocks(dx.shape):       # a few sequences at a time: numpy multiplies each on its own anyway
        coefficients = dx[block] @ U[:, :rank]
        coefficients /= S[:rank]
        got[block] = coefficients @ row_space
    expected = ds_ref if rank == H else ds_ref @ row_space.T @ row_space
    slack = np.concatenate([np.linalg.norm(tolerance.atol + tolerance.rtol * np.abs(dx_ref[block]), axis=-1,
                                           keepdims=True) for block in blocks(dx_ref.shape)]) / S[rank - 1]
    diverging = diverges(expected, got, tolerance, slack)
    shown = out.layout.to_submission
    comparison = Comparison(shown(expected), shown(got), shown(diverging), out.time_axis)
    if rank == H:
        derivation = Derivation(dx_name, "full", f"recovered from {dx_name} by least squares: "
                                                 "dx_t = ∂L/∂s_t·Wxᵀ and Wx has full column rank")
    else:
        derivation = Derivation(dx_name, "partial",
                                f"partial: Wx (D = {D}, H = {H}) has rank {rank} < H, so dx_t = ∂L/∂s_t·Wxᵀ shows "
                                f"only the part of ∂L/∂s_t in {rank} of its {H} directions; that part is compared, "
                                f"and a divergence in the other {H - rank} is invisible here")
    return OutputResult("dL_ds", SYMBOL, 0.0, True, comparison, derivation)
