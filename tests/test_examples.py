"""Every shipped example, graded on every shipped problem (hidden ones included): the
exact score and the first diverging timestep of ∂L/∂s_t the grader reports."""
import pytest

from grader import problem_set
from grader.grading import grade
from tests.conftest import EXAMPLES, SHIPPED_SET

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
    # ∂L/∂s_{T+1} = 1: wrong from t = T everywhere
    "nonzero_boundary": (2, [4, 1, 12, 20, 10, 8, 200, 30, 50, 25]),
    # only ∂L/∂w is wrong: ∂L/∂s_t all match, 2 (1 for single-step) points lost per problem
    "dw_uses_h_t": (75, [None] * 10),
    # carried back 3 steps: right for t ≥ T − 2, wrong from t = T − 3; on long-sigmoid the
    # dropped terms are below its rtol = 1e-5
    "truncated_recursion": (14, [1, None, 9, 17, 7, 5, None, 27, 47, 22]),
    # clipping at ±0.05: outside every catalogue
    "gradient_clipping": (0, [4, 1, 12, 12, 10, 8, 200, 30, 48, 23]),
}


@pytest.fixture(scope="module")
def shipped():
    return problem_set.load(str(SHIPPED_SET))


def test_the_shipped_set_is_what_these_tests_expect(shipped):
    assert [p.id for p in shipped.problems] == PROBLEMS
    assert [p.T for p in shipped.problems] == T


@pytest.mark.parametrize("example", sorted(EXPECTED))
def test_example_scores_and_first_divergences(shipped, example):
    score, divergences = EXPECTED[example]
    report = grade(shipped, EXAMPLES / f"{example}.py", include_hidden=True)
    got = [p.outputs[0].comparison.first_divergence for p in report.problems]
    assert [o.name for p in report.problems for o in p.outputs[:1]] == ["dL_ds"] * 10
    assert (report.score, got) == (score, divergences)
    assert all(p.status == ("passed" if p.score == p.max_score else "failed") for p in report.problems)


def test_without_include_hidden_only_visible_problems_run(shipped):
    report = grade(shipped, EXAMPLES / "correct.py")
    assert [p.id for p in report.problems] == PROBLEMS[:6]
    assert report.score == report.max_score == 54
