"""Name the mistake: which mistake of the problem's model's catalogue (reference.models:
reference/mistakes.py for the scalar model, reference/vector_mistakes.py for the vector one)
reproduces a wrong output.

A variant of a mistake explains a graded output that failed when its values match the
submission's within the problem's tolerance at every element, compared as grading compares
(grader/compare.py, the variant in the reference's place and in the contract's layout),
when it fails the problem itself (it differs from the reference there), and, where it
changes ∂L/∂s_t, when it changes no output the submission got right: a wrong recursion
changes every gradient at once through ∂L/∂s_t, so one that would change a right ∂L/∂s_t
(or a right ∂L/∂v) is not what the submission did, however close it comes on a wrong sum
(BPTT truncated before t = 1 changes ∂L/∂w by ∂L/∂s_1·h_0, as a sum that skips t = 1 does).
A mistake in the sums alone changes each independently, so it is never ruled out this way.
∂L/∂s_t derived from dx counts where it is fully localized.
Never a guess: no variant matches, no diagnosis.
Cost per failing problem: each mistake runs once (without a Python loop over t, and kept in
`MistakeRuns` for every later submission, but its largest outputs), and each wrong output is
compared with all variants at once (MATCHED_NUMBERS at most: for a large problem, each
mistake's on its own, its run freed before the next one's, so that one is held at a time).
"""
import functools
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np

from grader.compare import compare
from grader.contracts import CONTRACTS, SAME, Call, Exercise, Layout, mistakes_of
from grader.problem_set import Tolerance
from grader.results import AcrossProblems, Diagnosis, OutputResult, ProblemResult
from reference.mistakes import Mistake, Variants
from reference.models import MODELS

KEPT_NUMBERS = 1 << 20      # of one output of a mistake's run (its variants together) kept in MistakeRuns
MATCHED_NUMBERS = 1 << 20   # of a wrong output's variants, of one mistake or more, matched at once


class MistakeRuns:
    """Each catalogue mistake's variants on each problem, computed the first time a
    diagnosis needs them and kept for every later submission graded against the same
    exercises: one object per prepared problem set (keys are problem ids). An output whose
    variants hold more than KEPT_NUMBERS numbers (∂L/∂s_t of a large problem, say) is not
    kept but computed again when asked: kept, the catalogue's runs of a large problem would
    be many times its arrays."""

    def __init__(self) -> None:
        # (problem id, mistake id) → (the variants kept, the outputs they answer for: those kept
        # and those of the mistake's outputs its run does not have)
        self._runs: dict[tuple[str, str], tuple[Variants, frozenset[str]]] = {}

    def of(self, exercise: Exercise, mistake: Mistake, sources: set[str],
           reference: Callable[[], tuple[Any, dict]]) -> Variants:
        """The mistake's variants on the exercise's problem, with those of `sources` (some of
        mistake.outputs) it has; `reference()` gives the problem's forward pass and reference
        values (Exercise.reference) when the mistake is to be run."""
        key = (exercise.problem.id, mistake.id)
        if key in self._runs and sources <= self._runs[key][1]:
            return self._runs[key][0]
        variants = mistake.run(exercise.problem.rnn, *reference())
        kept = {name: values for name, values in variants.outputs.items() if values.size <= KEPT_NUMBERS}
        self._runs[key] = (Variants(variants.params, kept),
                           frozenset(kept) | (frozenset(mistake.outputs) - variants.outputs.keys()))
        return variants

    def __len__(self) -> int:
        return len(self._runs)


def _anywhere(diverging: np.ndarray) -> np.ndarray:
    """Per variant (the last axis), whether any element diverges; shape (K,)."""
    return np.asarray(diverging.any(axis=tuple(range(diverging.ndim - 1))))


def differing(values: np.ndarray, expected: np.ndarray, tolerance: Tolerance) -> np.ndarray:
    """Which variants differ from `expected` somewhere, compared as grading compares: `values`
    of shape S + (K,), `expected` of shape S (the output's shape); bool, shape (K,). A variant
    may be infinite (inf − inf is NaN, which diverges)."""
    with np.errstate(invalid="ignore"):
        return _anywhere(compare(np.asarray(expected)[..., None], values, tolerance).diverging)


def matching(values: np.ndarray, got: np.ndarray, expected: np.ndarray, tolerance: Tolerance) -> np.ndarray:
    """Which variants reproduce `got` at every element and differ from `expected`: shapes as
    in `differing`."""
    with np.errstate(invalid="ignore"):
        reproduces = ~_anywhere(compare(values, np.asarray(got)[..., None], tolerance).diverging)
    return np.asarray(reproduces & differing(values, expected, tolerance))


def in_layout(layout: Layout, values: np.ndarray) -> np.ndarray:
    """Variants of a reference value (trailing axis K) in the submission's layout."""
    if layout is SAME:
        return values
    return np.stack([layout.to_submission(values[..., k]) for k in range(values.shape[-1])], axis=-1)


def _seen_as(call: Call, o: OutputResult) -> tuple[Layout, str]:
    """The layout and the reference value of output `o` (∂L/∂s_t where it is derived from dx)."""
    out = call.outputs[o.derived_from or o.name]
    return out.layout, "dL_ds" if o.derived_from else out.source


def diagnose(exercise: Exercise, outputs: tuple[OutputResult, ...],
             runs: MistakeRuns | None = None) -> tuple[Diagnosis, ...]:
    """Every mistake variant that explains a failing output, by output in grading order,
    then in catalogue order, its words in the contract's notation (Coursera's Waa, a⟨t⟩).
    `runs` keeps each mistake's run for the next submission."""
    problem, call, catalogue = exercise.problem, exercise.call, mistakes_of(exercise.problem)
    notation = CONTRACTS[problem.contract].in_notation
    runs = MistakeRuns() if runs is None else runs
    reference = functools.cache(exercise.reference)     # computed once if a run needs it, freed on return
    wrong = [_Wrong(o, *_seen_as(call, o), problem.tolerance) for o in outputs
             if o.comparison is not None and not o.passed and o.localization != "partial"]
    if not wrong:
        return ()
    # (layout, reference value, expected) of each output the submission got right
    right = [(*_seen_as(call, o), np.asarray(o.comparison.expected)) for o in outputs      # whole once, if a product
             if o.comparison is not None and o.comparison.passed and o.localization != "partial"]

    def contradicted(variants: Variants) -> np.ndarray:
        """Per variant, whether it changes ∂L/∂s_t and an output the submission got right; (K,)."""
        changes_right = np.zeros(len(variants.params), dtype=bool)
        if "dL_ds" not in variants.outputs:
            return changes_right
        for layout, source, expected in right:
            if source in variants.outputs:
                changes_right |= differing(in_layout(layout, variants.outputs[source]), expected, problem.tolerance)
        if not changes_right.any():
            return changes_right
        return changes_right & differing(variants.outputs["dL_ds"], reference()[1]["dL_ds"], problem.tolerance)

    for m in catalogue.values():
        sources = {w.source for w in wrong if w.source in m.outputs}
        if not sources:
            continue
        asked = sources | ({source for _, source, _ in right} | {"dL_ds"}) & set(m.outputs)
        variants = runs.of(exercise, m, asked, reference)
        kept = ~contradicted(variants)
        params = tuple(p for p, keep in zip(variants.params, kept, strict=True) if keep)
        for w in wrong:
            if params and w.source in sources and w.source in variants.outputs:
                w.add(m.id, params, variants.outputs[w.source][..., kept])
        del variants            # before the next mistake runs
    diagnoses: list[Diagnosis] = []
    for w in wrong:
        explained = w.explained()
        ids = dict.fromkeys(mistake for mistake, _ in explained)
        diagnoses += [Diagnosis(mistake, w.output.name, params, tuple(i for i in ids if i != mistake),
                                notation(catalogue[mistake].change), notation(catalogue[mistake].explanation))
                      for mistake, params in explained]
    return tuple(diagnoses)


class _Wrong:
    """A wrong output and the mistake variants that explain it, matched (`matching`) all at
    once up to MATCHED_NUMBERS numbers of variants, then again for the next ones."""

    def __init__(self, output: OutputResult, layout: Layout, source: str, tolerance: Tolerance):
        assert output.comparison is not None        # a wrong output was compared
        self.output, self.source, self.layout, self.tolerance = output, source, layout, tolerance
        self.comparison = output.comparison
        self.expected = np.asarray(output.comparison.expected)      # whole once, if a product (reference.step_product)
        self.pending: list[tuple[list[tuple[str, dict]], np.ndarray]] = []     # (labels, variants) not matched yet
        self.pending_numbers = 0
        self.found: list[tuple[str, dict]] = []

    def add(self, mistake: str, params: tuple[dict, ...], values: np.ndarray) -> None:
        """The variants `values` (the source's shape + (K,)) of `mistake`, one per params."""
        self.pending.append(([(mistake, p) for p in params], in_layout(self.layout, values)))
        self.pending_numbers += values.size
        if self.pending_numbers > MATCHED_NUMBERS:
            self._match()

    def explained(self) -> list[tuple[str, dict]]:
        """(mistake id, params) of every variant added that explains the output, in the order added."""
        self._match()
        return self.found

    def _match(self) -> None:
        if not self.pending:
            return
        labels = [label for chunk, _ in self.pending for label in chunk]
        values = np.concatenate([v for _, v in self.pending], axis=-1)
        self.pending, self.pending_numbers = [], 0
        hits = matching(values, self.comparison.got, self.expected, self.tolerance)
        self.found += [label for label, hit in zip(labels, hits, strict=True) if hit]


def _key(mistake: str, params: dict) -> tuple:
    return mistake, tuple(sorted(params.items()))


def across_problems(problems: tuple[ProblemResult, ...]) -> tuple[AcrossProblems, ...]:
    """When two or more problems fail: every mistake variant that explains every wrong output
    of every one of them (the same parameters throughout), in catalogue order."""
    failing = [p for p in problems if p.status != "passed"]
    if len(failing) < 2:
        return ()
    common: set[tuple] | None = None
    change: dict[str, str] = {}
    for p in failing:
        wrong = {o.name for o in p.outputs if not o.passed and o.localization != "partial"}
        explained = defaultdict(set)
        for d in p.diagnosis:
            explained[_key(d.mistake, d.params)].add(d.output)
            change[d.mistake] = d.change
        everything = {key for key, names in explained.items() if names == wrong}
        common = everything if common is None else common & everything
    order = list(dict.fromkeys(m for model in MODELS.values() for m in model.mistakes))
    assert common is not None
    return tuple(AcrossProblems(mistake, dict(params), tuple(p.id for p in failing), change[mistake])
                 for mistake, params in sorted(common, key=lambda key: (order.index(key[0]), key[1])))
