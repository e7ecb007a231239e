"""Per-term localization of parameter gradients: each failing parameter gradient is checked
against the correct sums of the submission's own ∂L/∂s_t (returned; derived from dx; or,
where dx shows only part of it (D < H), read from the probing call's widened dx′, see
contracts.Probe) and the forward states, ∂L/∂Wh = Σ_t h_{t−1}ᵀ·∂L/∂s_t, ∂L/∂w = Σ_t
h_{t−1}·∂L/∂s_t and the like (the model's `term_sums`, built for every model by
reference.step_sums). Consistent: the sums are right and ∂L/∂s_t is what is wrong. Not
consistent: when one term changed (step t using h_T where h_0 belongs, or dropped) reproduces
it, that term is named. This separates a wrong recursion from a wrong accumulation, so two
combined bugs are both explained. Pure: it reads a CallOutcome and OutputResults."""
from dataclasses import replace

import numpy as np

from grader.compare import Comparison
from grader.contracts import Exercise
from grader.results import CallOutcome, DLdsMethod, OutputResult, TermCheck

PROBED = "x widened by H zero features and Wx by the identity"


def _within(got: np.ndarray, values: np.ndarray, tolerance) -> np.ndarray:
    """Which of `values` (M,) + shape match `got` within the tolerance at every element."""
    close = np.abs(values - got) <= tolerance.atol + tolerance.rtol * np.abs(values)
    return close.reshape(len(values), int(np.prod(values.shape[1:]))).all(axis=1)


def _close(got: np.ndarray, expected: np.ndarray, tolerance) -> bool:
    return got.shape == expected.shape and bool(
        np.all(np.abs(got - expected) <= tolerance.atol + tolerance.rtol * np.abs(expected)))


def probed_dL_ds(exercise: Exercise, outcome: CallOutcome) -> tuple[np.ndarray | None, str]:
    """The submission's ∂L/∂s_t (N, T, H) from its probing call (contracts.Probe): the last H
    features of its dx′; or None and why not. The probing call must give the call's own
    forward values and, in dx′'s first D features, the call's own dx."""
    call, probe, probed = exercise.call, exercise.probe, outcome.probe
    assert probe is not None and probed is not None and call.dx is not None    # made for it (grading.called)
    if probed.reason:
        return None, f"the probing call {probed.reason}"
    for name, shape in probe.shapes.items():
        raw = probed.outputs.get(name)
        if raw is None or raw.shape != shape or not np.isfinite(raw).all():
            why = probed.unusable.get(name, "is missing") if raw is None else \
                f"has shape {raw.shape}, expected {shape}" if raw.shape != shape else "is not finite"
            return None, f"in the probing call, {name} {why}"
        if name != call.dx and not _close(raw, outcome.outputs[name], exercise.problem.tolerance):
            return None, f"the probing call's {name} differs from your call's"
    dx = call.outputs[call.dx].layout.to_reference(probed.outputs[call.dx])
    if not _close(dx[..., :probe.features], call.outputs[call.dx].layout.to_reference(outcome.outputs[call.dx]),
                  exercise.problem.tolerance):
        return None, f"the probing call's {call.dx} differs from your call's in the first D = {probe.features} features"
    return dx[..., probe.features:], ""


def submission_dL_ds(exercise: Exercise, outcome: CallOutcome,
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
    source = derived.derived.source
    if derived.derived.localization == "full":
        return (call.outputs[source].layout.to_reference(derived.found.got), "from_dx",
                f"your ∂L/∂s_t, recovered from {source}")
    partial = f"∂L/∂s_t cannot be recovered from {source}: {derived.derived.note}"
    if outcome.probe is None:
        return None, None, partial
    ds, why = probed_dL_ds(exercise, outcome)
    if ds is None:
        return None, None, f"{partial}; {why}"
    return ds, "probing", f"your ∂L/∂s_t, recovered by a probing call ({source} with {PROBED})"


def with_terms(exercise: Exercise, outcome: CallOutcome, outputs: tuple[OutputResult, ...]) -> tuple[OutputResult, ...]:
    """`outputs` with `terms` set on each failing parameter gradient the model has sums for,
    where every forward value the problem grades matched."""
    call, problem = exercise.call, exercise.problem
    failing = [o for o in outputs if not o.derived_from and o.comparison is not None and not o.comparison.passed
               and call.outputs[o.name].source in problem.model.term_sums]
    forward_wrong = any(call.outputs[o.name].forward and not o.passed for o in outputs if o.name in call.outputs)
    if not failing or forward_wrong:
        return outputs
    ds, obtained, method = submission_dL_ds(exercise, outcome, outputs)
    sums = {} if ds is None else problem.model.term_alternatives(exercise.forward(), ds)
    checked = {}
    for o in failing:
        if ds is None:
            checked[o.name] = TermCheck(method, None, source=obtained)
            continue
        alternatives = sums[call.outputs[o.name].source]
        assert isinstance(o.found, Comparison)      # failing above
        got = call.outputs[o.name].layout.to_reference(o.found.got)
        if _within(got, alternatives.value[None], problem.tolerance)[0]:
            checked[o.name] = TermCheck(method, True, source=obtained)
            continue
        hits = _within(got, alternatives.alternatives, problem.tolerance)
        explaining = [label for label, hit in zip(alternatives.labels, hits, strict=True) if hit]
        checked[o.name] = TermCheck(method, False, explaining[0] if len(explaining) == 1 else None, obtained)
    return tuple(replace(o, terms=checked[o.name]) if o.name in checked else o for o in outputs)
