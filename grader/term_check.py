"""Per-term localization of parameter gradients: each failing parameter gradient is checked
against the correct sums of the submission's own ∂L/∂s_t (returned, or the ∂L/∂s_t
grader/localization.py derived fully: from dx, or from the probing call's widened dx′ where dx
shows only part of it) and the forward states, ∂L/∂Wh = Σ_t h_{t−1}ᵀ·∂L/∂s_t, ∂L/∂w = Σ_t
h_{t−1}·∂L/∂s_t and the like (the model's `term_sums`, built for every model by
reference.step_sums). Consistent: the sums are right and ∂L/∂s_t is what is wrong. Not
consistent: when one term changed (step t using h_T where h_0 belongs, or dropped) reproduces
it, that term is named. This separates a wrong recursion from a wrong accumulation, so two
combined bugs are both explained. Pure: it reads OutputResults."""
from dataclasses import replace

import numpy as np

from grader.compare import Comparison
from grader.contracts import Exercise
from grader.localization import PROBED
from grader.results import DLdsMethod, OutputResult, TermCheck


def _within(got: np.ndarray, values: np.ndarray, tolerance) -> np.ndarray:
    """Which of `values` (M,) + shape match `got` within the tolerance at every element."""
    close = np.abs(values - got) <= tolerance.atol + tolerance.rtol * np.abs(values)
    return close.reshape(len(values), int(np.prod(values.shape[1:]))).all(axis=1)


def submission_dL_ds(exercise: Exercise,
                     outputs: tuple[OutputResult, ...]) -> tuple[np.ndarray | None, DLdsMethod | None, str]:
    """The submission's ∂L/∂s_t (N, T, H) batch-first, how it was obtained (a DLdsMethod, or
    None where it was not) and that in a phrase (or why not)."""
    call = exercise.call
    returned = next((name for name, out in call.outputs.items() if out.source == "dL_ds"
                     and name in exercise.requested), None)
    found = next((o.found for o in outputs if o.name == returned), None)
    if returned and isinstance(found, Comparison):
        return call.outputs[returned].layout.to_reference(found.got), "returned", "your returned ∂L/∂s_t"
    derived = next((o for o in outputs if o.derived and o.name == "dL_ds"), None)
    if derived is None or derived.derived is None or not isinstance(derived.found, Comparison):
        return None, None, "∂L/∂s_t is neither returned nor derivable here"
    source, method = derived.derived.source, derived.derived.method
    if method is None:
        return None, None, f"∂L/∂s_t cannot be recovered from {source}: {derived.derived.note}"
    how = f"recovered from {source}" if method == "from_dx" else f"recovered by a probing call ({source} with {PROBED})"
    return call.outputs[source].layout.to_reference(derived.found.got), method, f"your ∂L/∂s_t, {how}"


def with_terms(exercise: Exercise, outputs: tuple[OutputResult, ...]) -> tuple[OutputResult, ...]:
    """`outputs` with `terms` set on each failing parameter gradient the model has sums for,
    where every forward value the problem grades matched."""
    call, problem = exercise.call, exercise.problem
    failing = [o for o in outputs if not o.derived_from and o.comparison is not None and not o.comparison.passed
               and call.outputs[o.name].source in problem.model.term_sums]
    forward_wrong = any(call.outputs[o.name].forward and not o.passed for o in outputs if o.name in call.outputs)
    if not failing or forward_wrong:
        return outputs
    ds, method, used = submission_dL_ds(exercise, outputs)
    sums = {} if ds is None else problem.model.term_alternatives(exercise.forward(), ds)
    checked = {}
    for o in failing:
        if ds is None:
            checked[o.name] = TermCheck(used, None)
            continue
        alternatives = sums[call.outputs[o.name].source]
        assert isinstance(o.found, Comparison)      # failing above
        got = call.outputs[o.name].layout.to_reference(o.found.got)
        if _within(got, alternatives.value[None], problem.tolerance)[0]:
            checked[o.name] = TermCheck(used, True, method=method)
            continue
        hits = _within(got, alternatives.alternatives, problem.tolerance)
        explaining = [alternatives.labels[int(i)] for i in np.flatnonzero(hits)]
        checked[o.name] = TermCheck(used, False, explaining[0] if len(explaining) == 1 else None, method)
    return tuple(replace(o, terms=checked[o.name]) if o.name in checked else o for o in outputs)
