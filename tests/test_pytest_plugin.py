"""The pytest plugin from the outside: a fresh pytest process in a temporary project,
which finds the plugin through its `pytest11` entry point (pytester)."""
import shutil

from tests.conftest import EXAMPLES, SHIPPED_SET

pytest_plugins = ["pytester"]

# Plugins these runs do without: hypothesis alone takes most of a second to load.
QUIET = ["-p", "no:cacheprovider", "-p", "no:hypothesispytest"]
VISIBLE = ["tanh-identity-squared", "single-step", "tanh-sigmoid-bce", "sin-tanh-mse",
           "softplus-sin-last-step", "relu-identity-squared"]


def project(pytester, example: str) -> list[str]:
    """A student's project with the shipped problem set and `example` as my_rnn.py; the options."""
    shutil.copy(SHIPPED_SET, pytester.path / "set.yaml")
    shutil.copy(EXAMPLES / f"{example}.py", pytester.path / "my_rnn.py")
    shutil.copy(EXAMPLES / "student_math.py", pytester.path)
    return ["--bptt-problem-set", "set.yaml", "--bptt-submission", "my_rnn.py", *QUIET]


def test_each_visible_problem_is_a_test_item_and_no_hidden_one_is(pytester):
    result = pytester.runpytest_subprocess(*project(pytester, "correct"), "--collect-only", "-q")
    assert result.stdout.lines[:6] == [f"set.yaml::{problem}" for problem in VISIBLE]
    assert "long-sigmoid" not in result.stdout.str()


def test_a_correct_submission_passes_every_item(pytester):
    result = pytester.runpytest_subprocess(*project(pytester, "correct"))
    result.assert_outcomes(passed=6)


def test_a_failing_item_shows_the_divergence_table(pytester):
    result = pytester.runpytest_subprocess(*project(pytester, "missing_recurrent_term"))
    result.assert_outcomes(passed=1, failed=5)
    result.stdout.fnmatch_lines([
        "*_ set.yaml::tanh-identity-squared _*",
        "tanh-identity-squared: 0/10 failed (T = 4) — dL_ds first diverges at t = 3; dL_dw differs; dL_dv differs",
        "*3       0.188885       0.422009       0.233  ← first divergence",
        "*∂L/∂s_t matches for t = 4 and first diverges at t = 3 (BPTT order)*",
    ])


def test_items_can_be_selected_by_keyword(pytester):
    result = pytester.runpytest_subprocess(*project(pytester, "missing_recurrent_term"), "-k", "single")
    result.assert_outcomes(passed=1, deselected=5)


def test_the_projects_own_tests_still_run_beside_the_items(pytester):
    pytester.makepyfile(test_own="def test_own():\n    pass\n")
    result = pytester.runpytest_subprocess(*project(pytester, "correct"))
    result.assert_outcomes(passed=7)


def test_without_the_options_the_plugin_adds_nothing(pytester):
    pytester.makepyfile(test_own="def test_own():\n    pass\n")
    project(pytester, "correct")
    result = pytester.runpytest_subprocess(*QUIET)
    result.assert_outcomes(passed=1)


def test_one_option_alone_is_a_usage_error(pytester):
    result = pytester.runpytest_subprocess("--bptt-submission", "my_rnn.py", *QUIET)
    assert result.ret == 4
    result.stderr.fnmatch_lines(["ERROR: --bptt-problem-set and --bptt-submission go together: give both"])


def test_an_invalid_problem_set_is_a_usage_error_with_its_location(pytester):
    pytester.path.joinpath("bad.yaml").write_text("schema_version: 1\ntitle: t\nproblems: []\n")
    pytester.path.joinpath("my_rnn.py").write_text("")
    result = pytester.runpytest_subprocess("--bptt-problem-set", "bad.yaml", "--bptt-submission", "my_rnn.py", *QUIET)
    assert result.ret == 4
    result.stderr.fnmatch_lines(["ERROR: bad.yaml:3:11: problems: [] should be non-empty"])
