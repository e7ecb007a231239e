"""∂L/∂s_t for a submission that does not return it, from its dx_t = ∂L/∂s_t·Wxᵀ (the scalar
model's ∂L/∂x_t = v·∂L/∂s_t: Wx = [[v]], D = H = 1).

Where Wx (D, H) has full column rank (so D ≥ H), the student's ∂L/∂s_t is recovered exactly
by least squares, ∂L/∂s_t = dx_t·(Wx⁺)ᵀ, and compared step by step as if it had been
returned (method from_dx). Where its rank r is below H (D < H, say), dx_t shows only the part
of ∂L/∂s_t in Wx's row space; the problem's probing call (contracts.Probe: x widened by H zero
features, Wx by the identity) then shows all of it, the last H features of its dx′, compared
the same way (method probing). Without a usable probing call, the part in the row space is
recovered and compared, and a divergence in the other H − r directions is invisible — the
localization is partial.

A recovered element diverges when it differs from the reference by more than the problem's
tolerance plus, for least squares, what dx's own tolerance becomes through it, ‖atol +
rtol·|dx_ref|‖₂ / σ_min(Wx) for its (n, t): a dx that matches never makes ∂L/∂s_t recovered
from it diverge. A probed ∂L/∂s_t is the submission's own, compared with no slack: it may
diverge where dx matches, in the directions dx cannot show.
"""
import functools
from collections.abc import Callable

import numpy as np

from grader.compare import COMPARED_ELEMENTS, Comparison, assembled, blocks, diverges, fine_blocks
from grader.contracts import Exercise
from grader.results import CallOutcome, Derivation, OutputResult

EPS = np.finfo(np.float64).eps
NORMAL = np.finfo(np.float64).tiny      # a smaller singular value carries ∂L/∂s_t into dx_t with lost digits
SYMBOL = "∂L/∂s_t"
PROBED = "x widened by H zero features and Wx by the identity"


def _close(got: np.ndarray, expected: np.ndarray, tolerance) -> bool:
    return got.shape == expected.shape and not diverges(expected, got, tolerance).any()


def probed_dL_ds(exercise: Exercise, outcome: CallOutcome) -> tuple[np.ndarray | None, str]:
    """The submission's ∂L/∂s_t (N, T, H) from its probing call (contracts.Probe): the last H
    features of its dx′; or None and why not. The probing call must give the call's own
    forward values and, in dx′'s first D features, the call's own dx."""
    call, probe, probed, dx_name = exercise.call, exercise.probe, outcome.probe, exercise.dx
    assert probe is not None and probed is not None and dx_name is not None    # made for it (grading.called)
    if probed.reason:
        return None, f"the probing call {probed.reason}"
    for name, shape in probe.shapes.items():
        raw = probed.outputs.get(name)
        if raw is None or raw.shape != shape or not np.isfinite(raw).all():
            why = probed.unusable.get(name, "is missing") if raw is None else \
                f"has shape {raw.shape}, expected {shape}" if raw.shape != shape else "is not finite"
            return None, f"in the probing call, {name} {why}"
        yours = outcome.outputs.get(name)
        if name != dx_name and (yours is None or not _close(raw, yours, exercise.problem.tolerance)):
            return None, f"the probing call's {name} differs from your call's"
    dx = call.outputs[dx_name].layout.to_reference(probed.outputs[dx_name])
    if not _close(dx[..., :probe.features], call.outputs[dx_name].layout.to_reference(outcome.outputs[dx_name]),
                  exercise.problem.tolerance):
        return None, f"the probing call's {dx_name} differs from your call's in the first D = {probe.features} features"
    return dx[..., probe.features:], ""


class RecoveredComparison(Comparison):
    """The comparison of the student's ∂L/∂s_t recovered from dx, whose `got` is recovered
    again (the same values) when asked: a block of steps at a time for what reads it in parts
    (`got_part`: a report's rows and statistics), whole (then kept) only for what needs it
    whole (the term check, the diagnosis, --full-arrays). Grading reads only `diverging`, so a
    submission whose parameter gradients pass never holds it whole. Pickled as a Comparison."""
    _recover: Callable[[], np.ndarray]
    _recover_steps: Callable[[slice], np.ndarray]

    def __init__(self, expected: np.ndarray, diverging: np.ndarray, time_axis: int,
                 recover: Callable[[], np.ndarray], recover_steps: Callable[[slice], np.ndarray]):
        for name, value in (("expected", expected), ("diverging", diverging), ("time_axis", time_axis),
                            ("order", "backward"), ("_recover", recover), ("_recover_steps", recover_steps)):
            object.__setattr__(self, name, value)

    @functools.cached_property
    def got(self) -> np.ndarray:
        return self._recover()

    def got_part(self, block: tuple[slice, ...]) -> np.ndarray:
        return super().got_part(block) if "got" in vars(self) else self._recover_steps(*block)

    def __reduce__(self):
        return Comparison, (self.expected, self.got, self.diverging, self.time_axis, self.order)


def derived_dL_ds(exercise: Exercise, outcome: CallOutcome, dx: np.ndarray, tolerance) -> OutputResult | None:
    """The student's ∂L/∂s_t recovered from their usable dx (in the submission's layout), or
    where that shows only part of it, from their probing call, as an output worth no points;
    None where Wx = 0 (or below the normal floats) leaves nothing to recover and no probing
    call showed it. Any model: its per-step values batched (N, T, ·) and its Wx (Model.input_map)."""
    dx_name, model = exercise.dx, exercise.problem.model
    assert dx_name is not None                                     # dx is only usable where ∂L/∂s_t comes from it
    v, out = exercise.derivation, exercise.call.outputs[dx_name]
    assert out.time_axis is not None                               # dx is per step
    ds_ref, dx_ref, input_map = model.batched(v["dL_ds"]), model.batched(v["dL_dx"]), v["input_map"]
    D, H = input_map.Wx.shape
    U, S, Vt = np.linalg.svd(input_map.Wx, full_matrices=False)
    rank = int(np.sum(np.maximum(S[0] * max(D, H) * EPS, NORMAL) < S))
    probed, unprobed = probed_dL_ds(exercise, outcome) if rank < H and outcome.probe is not None else (None, "")

    def shown(batched: np.ndarray) -> np.ndarray:
        return out.layout.to_submission(model.unbatched(batched))

    comparison: Comparison
    if probed is not None:
        comparison = Comparison(shown(ds_ref), shown(probed), shown(diverges(ds_ref, probed, tolerance)), out.time_axis)
        derivation = Derivation(dx_name, f"recovered by a probing call ({PROBED}): the last H features of "
                                         f"its {dx_name} are ∂L/∂s_t, whatever D", "probing")
    elif rank == 0:
        return None
    else:
        comparison = _least_squares(model.batched(out.layout.to_reference(dx)), U, S, Vt[:rank], ds_ref, dx_ref,
                                    tolerance, shown, out.time_axis)
        if rank == H:
            derivation = Derivation(dx_name, f"recovered from {dx_name} {input_map.recovery}", "from_dx")
        else:
            derivation = Derivation(dx_name,
                                    f"partial: Wx (D = {D}, H = {H}) has rank {rank} < H, so dx_t = ∂L/∂s_t·Wxᵀ "
                                    f"shows only the part of ∂L/∂s_t in {rank} of its {H} directions; that part is "
                                    f"compared, and a divergence in the other {H - rank} is invisible here"
                                    + (f"; {unprobed}" if unprobed else ""), None)
    return OutputResult("dL_ds", SYMBOL, 0.0, True, comparison, derivation)


def _least_squares(dx: np.ndarray, U: np.ndarray, S: np.ndarray, row_space: np.ndarray, ds_ref: np.ndarray,
                   dx_ref: np.ndarray, tolerance, shown: Callable[[np.ndarray], np.ndarray],
                   time_axis: int) -> RecoveredComparison:
    """The student's ∂L/∂s_t (its part in Wx's row space, `row_space` (r, H) orthonormal, Wx =
    U·diag(S)·Vᵀ) from their dx against the reference's, all batched (N, T, ·); `shown` puts a
    batched array in the submission's layout. Compared a few sequences at a time, each block
    recovered, compared and dropped."""
    D, rank = dx.shape[-1], len(row_space)

    def recovered(block: tuple[slice, ...]) -> np.ndarray:
        """∂L/∂s_t of the sequences of `block` (numpy multiplies each sequence on its own anyway)."""
        coefficients = dx[block] @ U[:, :rank]
        coefficients /= S[:rank]
        return coefficients @ row_space

    def recovered_whole() -> np.ndarray:
        got = np.empty(ds_ref.shape)
        for block in blocks(dx.shape):
            got[block] = recovered(block)
        return shown(got)

    def recovered_steps(steps: slice) -> np.ndarray:
        """Steps `steps` (0-based) of ∂L/∂s_t, in the submission's layout: of two steps at
        least, as a product of one step takes BLAS's matrix–vector path, whose sums round
        otherwise than the matrix–matrix path `recovered_whole` (and grading) took."""
        T = dx.shape[1]
        start, stop, _ = steps.indices(T)
        first = max(0, min(start, T - 2))
        widened = shown(recovered((slice(None), slice(first, max(stop, min(T, start + 2))))))
        return widened[(slice(None),) * time_axis + (slice(start - first, stop - first),)]

    slack = np.empty((*dx_ref.shape[:-1], 1))       # dx's tolerance through least squares, per (n, t)
    for block in fine_blocks(dx_ref.shape[:-1], max(1, COMPARED_ELEMENTS // D)):       # whole rows of dx
        slack[block] = np.linalg.norm(tolerance.atol + tolerance.rtol * np.abs(dx_ref[block]), axis=-1, keepdims=True)
    slack /= S[rank - 1]
    expected = ds_ref if rank == ds_ref.shape[-1] else ds_ref @ row_space.T @ row_space
    diverging = assembled(ds_ref.shape, ((block, diverges(expected[block], recovered(block), tolerance, slack[block]))
                                         for block in blocks(dx.shape)))
    return RecoveredComparison(shown(expected), shown(diverging), time_axis, recovered_whole, recovered_steps)
