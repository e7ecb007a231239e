"""Every shipped example, graded on every shipped problem (hidden ones included): the
exact score, the first diverging timestep of ∂L/∂s_t, and the mistake the diagnosis names."""
from functools import cache

import pytest

from grader import loader
from grader.grading import grade
from reference.mistakes import MISTAKES
from tests.conftest import EXAMPLE_OF_MISTAKE, EXAMPLES, SHIPPED_SET

PROBLEMS = ["tanh-identity-squared", "single-step", "tanh-sigmoid-bce", "sin-tanh-mse",
            "softplus-sin-last-step", "relu-identity-squared", "long-sigmoid",
            "leaky-relu-softplus", "identity-tanh-mse", "sigmoid-relu-squared"]
T = [4, 1, 12, 20, 10, 8, 200, 30, 50, 25]

# example → (total score, first divergence of ∂L/∂s_t per problem, in PROBLEMS order)
EXPECTED = {
    "correct": (94, [None] * 10),
    # φ'(h_t) for θ'(h_t): wrong already at t = T, except where φ'(h) and θ'(h) agree
    # wherever it matters (relu state with identity output: both are 1 when h_t > 0)
    "seed_typo_phi_prime_of_h": (10, [4, 1, 12, 20, 10, None, 200, 30, 50, 25]),
    # no ∂L/∂s_{t+1}·w: right at t = T, wrong from t = T − 1 (and invisible when T = 1)
    "missing_recurrent_term": (4, [3, None, 11, 19, 9, 7, 199, 29, 49, 24]),
    # φ'(h_t) for φ'(s_t): invisible for identity and the relu family, where they agree
    "activation_derivative_at_h": (30, [4, 1, 12, 20, 10, None, 200, None, None, 25]),
    # no φ'(s_t): invisible for φ = identity and where every s_t > 0 under relu; on
    # leaky-relu-softplus wrong from the last t with s_t < 0
    "activation_derivative_omitted": (20, [4, 1, 12, 20, 10, None, 200, 14, None, 25]),
    # ∂L/∂s_{T+1} = 1: wrong from t = T everywhere
    "nonzero_boundary": (2, [4, 1, 12, 20, 10, 8, 200, 30, 50, 25]),
    # only ∂L/∂w is wrong: ∂L/∂s_t all match, 2 (1 for single-step) points lost per problem
    "dw_uses_h_t": (75, [None] * 10),
    # carried back 3 steps: right for t ≥ T − 2, wrong from t = T − 3; on long-sigmoid the
    # dropped terms are below its rtol = 1e-5
    "truncated_recursion": (14, [1, None, 9, 17, 7, 5, None, 27, 47, 22]),
    # φ'(s_t) on the local term only: invisible where φ'(s_t) = 1 at every step (T = 1, identity,
    # relu with every s_t > 0); on leaky-relu-softplus wrong from the last t with s_t < 0; on
    # long-sigmoid ∂L/∂s_1 is still within rtol = 1e-5, so ∂L/∂h_0 keeps its point
    "recurrent_term_skips_phi_prime": (25, [3, None, 11, 19, 9, None, 199, 14, None, 24]),
    # v for w in the recursion: like the dropped term, right at t = T only
    "recurrence_uses_v": (4, [3, None, 11, 19, 9, 7, 199, 29, 49, 24]),
    # −∂L/∂ŷ_t: every value wrong, from t = T
    "loss_derivative_sign": (0, [4, 1, 12, 20, 10, 8, 200, 30, 50, 25]),
    # only ∂L/∂ŷ_T enters: right at t = T; invisible for T = 1 and a last-step loss
    "missing_local_term": (14, [3, None, 11, 19, None, 7, 199, 29, 49, 24]),
    # only one scalar is wrong: ∂L/∂w (2 points, 9 problems with T > 1), ∂L/∂v (2 or 1 points,
    # not graded on single-step), ∂L/∂h_0 (1 point, graded on 4 problems)
    "dw_not_accumulated": (76, [None] * 10),
    "dv_not_accumulated": (79, [None] * 10),
    "dv_uses_h": (79, [None] * 10),
    "dh0_missing_w": (90, [None] * 10),
    # clipping at ±0.05: outside every catalogue
    "gradient_clipping": (0, [4, 1, 12, 12, 10, 8, 200, 30, 48, 23]),
    # only ∂L/∂w is wrong, in one term (the term check names it: tests/test_term_check.py);
    # tanh-sigmoid-bce has h_0 = 0, so the missing ∂L/∂s_1·h_0 is 0 there
    "dw_skips_first_step": (77, [None] * 10),
    "dw_rolled_states": (75, [None] * 10),
    # no ∂L/∂s_{t+1}·w (as missing_recurrent_term) and ∂L/∂w assigned in the loop: single-step,
    # where both are invisible, is the one problem passed
    "no_recurrence_nor_accumulation": (4, [3, None, 11, 19, 9, 7, 199, 29, 49, 24]),
}
DIAGNOSED = {example: (mistake, {"k": 3} if mistake == "truncated_recursion" else {})
             for mistake, example in EXAMPLE_OF_MISTAKE.items()}
# examples whose ∂L/∂w no one catalogue mistake explains everywhere: (the mistake named on every
# other wrong output, {problem: the mistake named on ∂L/∂w there})
BEYOND_CATALOGUE = {
    "dw_skips_first_step": (None, {}),
    # at T = 1 the rolled states give h_1 = h_T: h_t where h_{t−1} belongs
    "dw_rolled_states": (None, {"single-step": "dw_uses_h_t"}),
    # with h_0 = 0 the one term left, ∂L/∂s_1·h_0, is 0 whatever ∂L/∂s_t is: ∂L/∂w not accumulated
    "no_recurrence_nor_accumulation": ("missing_recurrent_term", {"tanh-sigmoid-bce": "dw_not_accumulated"}),
}


def expected_diagnosis(example: str, problem: str, wrong: list[str]) -> list[tuple]:
    """(mistake, output, params) the diagnosis names on `problem`, whose wrong outputs are `wrong`."""
    if example in BEYOND_CATALOGUE:
        mistake, on_dw = BEYOND_CATALOGUE[example]
        named = {name: on_dw.get(problem) if name == "dL_dw" else mistake for name in wrong}
        return [(named[name], name, {}) for name in wrong if named[name]]
    mistake, params = DIAGNOSED.get(example, (None, None))
    return [(mistake, name, params) for name in wrong] if mistake else []


@pytest.fixture(scope="module")
def shipped():
    return loader.load(str(SHIPPED_SET))


@cache
def graded(example: str):
    return grade(loader.load(str(SHIPPED_SET)), EXAMPLES / f"{example}.py", include_hidden=True)


def test_the_shipped_set_is_what_these_tests_expect(shipped):
    assert [p.id for p in shipped.problems] == PROBLEMS
    assert [p.T for p in shipped.problems] == T


@pytest.mark.parametrize("example", sorted(EXPECTED))
def test_example_scores_and_first_divergences(example):
    score, divergences = EXPECTED[example]
    report = graded(example)
    got = [p.outputs[0].comparison.first_divergence for p in report.problems]
    assert [o.name for p in report.problems for o in p.outputs[:1]] == ["dL_ds"] * 10
    assert (report.score, got) == (score, divergences)
    assert all(p.status == ("passed" if p.score == p.max_score else "failed") for p in report.problems)


def test_without_include_hidden_only_visible_problems_run(shipped):
    report = grade(shipped, EXAMPLES / "correct.py")
    assert [p.id for p in report.problems] == PROBLEMS[:6]
    assert report.score == report.max_score == 54


def test_every_catalogue_mistake_has_a_buggy_example():
    assert sorted(EXAMPLE_OF_MISTAKE) == sorted(MISTAKES)
    assert set(EXAMPLE_OF_MISTAKE.values()) <= set(EXPECTED)


@pytest.mark.parametrize("example", sorted(EXPECTED))
def test_example_is_diagnosed_with_its_mistake_on_every_wrong_output_and_nowhere_else(example):
    report = graded(example)                                    # correct, gradient_clipping: none
    for p in report.problems:
        wrong = [o.name for o in p.outputs if not o.passed]
        assert [(d.mistake, d.output, d.params) for d in p.diagnosis] == expected_diagnosis(example, p.id, wrong), p.id


@pytest.mark.parametrize("example", sorted(EXPECTED))
def test_one_mistake_explains_all_failing_problems_of_a_catalogue_example(example):
    mistake, params = DIAGNOSED.get(example, (None, None))
    report = graded(example)
    failing = tuple(p.id for p in report.problems if p.status != "passed")
    assert [(a.mistake, a.params, a.problems) for a in report.diagnosis_across_problems] == (
        [(mistake, params, failing)] if mistake else [])
