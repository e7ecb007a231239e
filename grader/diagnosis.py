"""Name the mistake: which catalogue mistake (reference/mistakes.py, or its vector forms in
reference/vector_mistakes.py for a vector problem) reproduces a wrong output.

A variant of a mistake explains a graded output that failed when its values match the
submission's within the problem's tolerance at every element, compared as grading compares
(grader/compare.py, the variant in the reference's place), and when it fails the problem
itself (it differs from the reference there). Never a guess: no variant matches, no
diagnosis. Cost per failing problem: each mistake runs once, without a Python loop over t
(reference/mistakes.py), and each wrong output is compared with all variants at once.
"""
from collections import defaultdict

import numpy as np

from grader.compare import compare
from grader.problem_set import Problem, Tolerance
from grader.results import AcrossProblems, Diagnosis, OutputResult, ProblemResult
from reference.mistakes import MISTAKES
from reference.scalar import Forward
from reference.vector_mistakes import VECTOR_MISTAKES


def _anywhere(diverging: np.ndarray) -> np.ndarray:
    """Per variant (the last axis), whether any element diverges; shape (K,)."""
    return diverging.any(axis=tuple(range(diverging.ndim - 1)))


def matching(values: np.ndarray, got: np.ndarray, expected: np.ndarray, tolerance: Tolerance) -> np.ndarray:
    """Which variants reproduce `got` at every element and differ from `expected`: `values`
    of shape S + (K,), `got` and `expected` of shape S (the output's shape); bool, shape (K,).
    A variant may be infinite (inf − inf is NaN, which diverges)."""
    with np.errstate(invalid="ignore"):
        reproduces = ~_anywhere(compare(values, np.asarray(got)[..., None], tolerance).diverging)
        shows = _anywhere(compare(np.asarray(expected)[..., None], values, tolerance).diverging)
    return reproduces & shows


def diagnose(problem: Problem, f: Forward, reference: dict, outputs: tuple[OutputResult, ...],
             memo: dict | None = None) -> tuple[Diagnosis, ...]:
    """Every mistake variant that explains a failing output, by output in grading order,
    then in catalogue order. `f` is the problem's forward pass, `reference` every gradient
    of the seed's BPTT on it (reference.scalar.backward). `memo` (mistake id → its
    variants on this problem) keeps each mistake's run for the next submission."""
    wrong = {o.name: o.comparison for o in outputs if o.comparison is not None and not o.passed}
    memo = {} if memo is None else memo
    runs = {m.id: memo[m.id] if m.id in memo else memo.setdefault(m.id, m.run(problem.rnn, f, reference))
            for m in MISTAKES.values() if set(m.outputs) & set(wrong)}
    diagnoses = []
    for name, c in wrong.items():
        tried = [(mistake, variants) for mistake, variants in runs.items() if name in MISTAKES[mistake].outputs]
        if not tried:
            continue
        labels = [(mistake, params) for mistake, variants in tried for params in variants.params]
        values = np.concatenate([variants.outputs[name] for _, variants in tried], axis=-1)
        hits = matching(values, c.got, c.expected, problem.tolerance)
        found = [label for label, hit in zip(labels, hits) if hit]
        ids = dict.fromkeys(mistake for mistake, _ in found)
        diagnoses += [Diagnosis(mistake, name, params, tuple(i for i in ids if i != mistake),
                                MISTAKES[mistake].change, MISTAKES[mistake].explanation)
                      for mistake, params in found]
    return tuple(diagnoses)


def diagnose_vector(exercise, outputs: tuple[OutputResult, ...]) -> tuple[Diagnosis, ...]:
    """As `diagnose`, for a vector problem (its grader.contracts.Exercise): every vector form
    of a mistake that reproduces a failing output, compared in the contract's layout. ∂L/∂s_t
    derived from dx counts where it is fully localized. Each mistake's run is kept in the
    exercise for the next submission."""
    problem, call = exercise.problem, exercise.call
    layouts = {o.name: call.outputs[o.derived_from or o.name].layout for o in outputs
               if o.comparison is not None and not o.passed and o.localization in (None, "full")}
    sources = {name: "dL_ds" if name == "dL_ds" and call.dx else call.outputs[name].source for name in layouts}
    memo = exercise.mistake_runs
    runs = {m.id: memo[m.id] if m.id in memo else memo.setdefault(m.id, m.run(problem.rnn, exercise.forward))
            for m in VECTOR_MISTAKES.values() if set(m.outputs) & set(sources.values())}
    wrong = {o.name: o.comparison for o in outputs if o.name in layouts}
    diagnoses = []
    for name, source in sources.items():
        tried = [mistake for mistake, values in runs.items() if source in VECTOR_MISTAKES[mistake].outputs
                 and source in values]
        if not tried:
            continue
        values = np.stack([layouts[name].to_submission(runs[mistake][source]) for mistake in tried], axis=-1)
        found = [m for m, hit in zip(tried, matching(values, wrong[name].got, wrong[name].expected,
                                                      problem.tolerance)) if hit]
        diagnoses += [Diagnosis(m, name, {}, tuple(i for i in found if i != m), VECTOR_MISTAKES[m].change,
                                VECTOR_MISTAKES[m].explanation) for m in found]
    return tuple(diagnoses)


def _key(mistake: str, params: dict) -> tuple:
    return mistake, tuple(sorted(params.items()))


def across_problems(problems: tuple[ProblemResult, ...]) -> tuple[AcrossProblems, ...]:
    """When two or more problems fail: every mistake variant that explains every wrong output
    of every one of them (the same parameters throughout), in catalogue order."""
    failing = [p for p in problems if p.status != "passed"]
    if len(failing) < 2:
        return ()
    common, change = None, {}
    for p in failing:
        wrong = {o.name for o in p.outputs if not o.passed and o.localization != "partial"}
        explained = defaultdict(set)
        for d in p.diagnosis:
            explained[_key(d.mistake, d.params)].add(d.output)
            change[d.mistake] = d.change
        everything = {key for key, names in explained.items() if names == wrong}
        common = everything if common is None else common & everything
    order = list(MISTAKES) + [m for m in VECTOR_MISTAKES if m not in MISTAKES]
    return tuple(AcrossProblems(mistake, dict(params), tuple(p.id for p in failing), change[mistake])
                 for mistake, params in sorted(common, key=lambda key: (order.index(key[0]), key[1])))
