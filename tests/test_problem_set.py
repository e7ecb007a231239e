"""grader.loader.load: valid sets, schema violations, semantic checks, hostile files."""
import numpy as np
import pytest
import yaml

from grader.loader import MAX_FILE_BYTES, load
from grader.problem_data import Drawn, Given
from grader.problem_set import Limits, Tolerance
from grader.yaml_positions import parse
from reference.activations import ACTIVATIONS
from reference.losses import LOSSES
from reference.scalar import GRADIENT_SHAPES
from tests.conftest import error_for, load_error, where, write

EXAMPLE = """\
schema_version: 1
title: BPTT for a scalar RNN
entry_point: backward
defaults:
  tolerance: {rtol: 1.0e-6, atol: 1.0e-9}
  limits: {timeout: 10, memory_mb: 1024}
limits: {timeout: 8, memory_mb: 2048}
problems:
  - id: tanh-identity-squared
    title: tanh state, identity output, squared error
    points: 10
    visibility: visible
    model: {phi: tanh, theta: identity, loss: squared_error}
    params: {w: 0.8, v: -0.5, h0: 0.1}
    data: {x: [0.5, -1.0, 0.3, 0.9], y: [0.1, 0.2, -0.3, 0.0]}
    grade: {dL_ds: 6, dL_dw: 2, dL_dv: 2}
  - id: long-sigmoid
    points: 10
    visibility: hidden
    model: {phi: tanh, theta: sigmoid, loss: binary_cross_entropy}
    params: {random: {seed: 7, scale: 0.9}}
    data: {random: {seed: 11, T: 200}}
    tolerance: {rtol: 1.0e-5}
    limits: {timeout: 5}
    grade: {dL_ds: 6, dL_dw: 2, dL_dv: 1, dL_dh0: 1}
"""

# Line 6 of BASE: phi at column 13, its value at 18; theta's value at 31; loss's at 47.
BASE = """\
schema_version: 1
title: tiny
problems:
  - id: p1
    points: 10
    model: {phi: tanh, theta: identity, loss: squared_error}
    params: {w: 0.8, v: -0.5}
    data: {x: [0.5, -1.0], y: [0.1, 0.2]}
    grade: {dL_ds: 6, dL_dw: 4}
"""
GRADE_LINE = "    grade: {dL_ds: 6, dL_dw: 4}\n"

# Draws from numpy.random.default_rng(seed), computed once and fixed here.
SEED_7_NORMAL_SCALE_09 = (0.001107138021734317, 0.2688709837576229, -0.24672406982599582)
SEED_11_X = [0.03419276725318417, 1.3597475403099617, 1.2247210785859324, -0.5103070767876675]


def base_with(old: str, new: str) -> str:
    assert old in BASE
    return BASE.replace(old, new)


# --- valid sets -------------------------------------------------------------------------

def test_explicit_problem_loads_with_the_given_values(tmp_path):
    path = write(tmp_path, EXAMPLE)
    problem_set = load(path)
    problem = problem_set.problems[0]
    assert (problem_set.path, problem_set.title, problem_set.entry_point) == (
        path, "BPTT for a scalar RNN", "backward")
    assert (problem.id, problem.title, problem.points, problem.visibility) == (
        "tanh-identity-squared", "tanh state, identity output, squared error", 10.0, "visible")
    assert (problem.phi, problem.theta, problem.loss) == ("tanh", "identity", "squared_error")
    assert (problem.w, problem.v, problem.h0) == (0.8, -0.5, 0.1)
    assert problem.x.tolist() == [0.5, -1.0, 0.3, 0.9]
    assert problem.y.tolist() == [0.1, 0.2, -0.3, 0.0]
    assert list(problem.grade.items()) == [("dL_ds", 6.0), ("dL_dw", 2.0), ("dL_dv", 2.0)]
    assert problem.tolerance == Tolerance(rtol=1e-6, atol=1e-9)


def test_omitted_fields_take_their_defaults(tmp_path):
    problem_set = load(write(tmp_path, BASE))
    problem = problem_set.problems[0]
    assert problem_set.entry_point == "backward"
    assert (problem.title, problem.visibility, problem.h0) == ("p1", "visible", 0.0)
    assert (problem.tolerance, problem.limits) == (Tolerance(), Limits())


def test_limits_take_problem_over_set_over_defaults_key_by_key(tmp_path):
    problems = load(write(tmp_path, EXAMPLE)).problems
    assert problems[0].limits == Limits(timeout=8.0, memory_mb=2048)
    assert problems[1].limits == Limits(timeout=5.0, memory_mb=2048)


def test_problem_tolerance_overrides_defaults_key_by_key(tmp_path):
    assert load(write(tmp_path, EXAMPLE)).problems[1].tolerance == Tolerance(rtol=1e-5, atol=1e-9)


def test_sequences_are_read_only_float64(tmp_path):
    problem = load(write(tmp_path, base_with("x: [0.5, -1.0]", "x: [1, 2]"))).problems[0]
    assert (problem.x.dtype, problem.y.dtype) == (np.float64, np.float64)
    assert problem.x.tolist() == [1.0, 2.0]
    assert not problem.x.flags.writeable and not problem.y.flags.writeable


def test_random_params_are_normal_draws_from_the_seed(tmp_path):
    problem = load(write(tmp_path, EXAMPLE)).problems[1]
    assert (problem.w, problem.v, problem.h0) == SEED_7_NORMAL_SCALE_09


def test_random_data_draws_x_then_0_1_labels_for_a_loss_with_a_label_range(tmp_path):
    problem = load(write(tmp_path, EXAMPLE)).problems[1]
    assert (problem.T, problem.x[:4].tolist(), problem.y[:4].tolist()) == (200, SEED_11_X, [0.0, 0.0, 0.0, 1.0])
    assert not problem.x.flags.writeable and not problem.y.flags.writeable


def test_random_y_is_uniform_over_a_bounded_theta_range(tmp_path):
    text = base_with("theta: identity", "theta: tanh").replace(
        "{x: [0.5, -1.0], y: [0.1, 0.2]}", "{random: {seed: 11, T: 4}}")
    problem = load(write(tmp_path, text)).problems[0]
    assert problem.x.tolist() == SEED_11_X
    assert problem.y.tolist() == [-0.7041478308450881, 0.856422045920739, -0.8591588476916063, -0.740452101201404]


def test_random_y_is_standard_normal_for_an_unbounded_theta(tmp_path):
    text = base_with("{x: [0.5, -1.0], y: [0.1, 0.2]}", "{random: {seed: 11, T: 4}}")
    problem = load(write(tmp_path, text)).problems[0]
    assert problem.y.tolist() == [-0.2979695111064471, -0.5273841930334252, 0.5697263575719601, -0.056064439045617594]


def test_random_problem_loads_the_same_twice(tmp_path):
    path = write(tmp_path, EXAMPLE)
    first, second = load(path).problems[1], load(path).problems[1]
    assert (first.w, first.v, first.h0) == (second.w, second.v, second.h0)
    assert np.array_equal(first.x, second.x) and np.array_equal(first.y, second.y)


def test_random_data_is_kept_as_its_seed_and_sizes_not_as_arrays(tmp_path):
    problem = load(write(tmp_path, EXAMPLE)).problems[1]
    assert problem.data == Drawn(seed=11, shape=(200,), target_shape=(200,), theta="sigmoid",
                                 loss="binary_cross_entropy")


def test_drawn_data_is_the_same_on_every_draw(tmp_path):
    problem = load(write(tmp_path, EXAMPLE)).problems[1]
    (x, y), (x_again, y_again) = problem.data.arrays(), problem.data.arrays()
    assert (x[:4].tolist(), y[:4].tolist()) == (SEED_11_X, [0.0, 0.0, 0.0, 1.0])
    assert x is not x_again and np.array_equal(x, x_again) and np.array_equal(y, y_again)
    assert not x_again.flags.writeable and not y_again.flags.writeable


def test_size_of_drawn_data_is_known_without_drawing(tmp_path, monkeypatch):
    problem = load(write(tmp_path, EXAMPLE)).problems[1]
    monkeypatch.setattr(Drawn, "arrays", lambda self: pytest.fail("drew the data"))
    assert (problem.T, problem.dimensions) == (200, {"T": 200})


def test_given_data_is_read_only_and_leaves_the_caller_s_arrays_writable():
    x, y = np.array([1.0, 2.0]), np.array([0.5, 0.0])
    given = Given(x, y)
    assert not given.x.flags.writeable and not given.target.flags.writeable
    assert x.flags.writeable and y.flags.writeable
    assert (given.shape, given.arrays()[0].tolist()) == ((2,), [1.0, 2.0])


def test_grade_points_may_differ_from_points_by_rounding(tmp_path):
    text = base_with("points: 10", "points: 0.3").replace("dL_ds: 6, dL_dw: 4", "dL_ds: 0.1, dL_dw: 0.2")
    assert load(write(tmp_path, text)).problems[0].points == 0.3


def test_merge_keys_and_aliases_are_allowed(tmp_path):
    text = BASE.replace("params: {w: 0.8, v: -0.5}", "params: &p {w: 0.8, v: -0.5}") + (
        "  - id: p2\n"
        "    points: 10\n"
        "    model: {phi: tanh, theta: identity, loss: squared_error}\n"
        "    params: {<<: *p, v: 0.3}\n"
        "    data: {x: [1.0], y: [2.0]}\n"
        "    grade: {dL_dw: 10}\n")
    problem = load(write(tmp_path, text)).problems[1]
    assert (problem.w, problem.v) == (0.8, 0.3)


def test_a_date_like_title_stays_a_string(tmp_path):
    assert load(write(tmp_path, base_with("title: tiny", "title: 2024-01-01"))).title == "2024-01-01"


def test_error_text_is_file_line_column_field_message(tmp_path):
    error = error_for(tmp_path, base_with("phi: tanh", "phi: tanhh"))
    assert str(error) == (f"{tmp_path / 'set.yaml'}:6:18: problems[0].model.phi: "
                          f"'tanhh' is not one of {list(ACTIVATIONS)}")


# --- schema violations ------------------------------------------------------------------

@pytest.mark.parametrize("old, new, field, line, column, message", [
    pytest.param("phi: tanh", "phi: tanhh", "problems[0].model.phi", 6, 18,
                 f"'tanhh' is not one of {list(ACTIVATIONS)}", id="unknown-activation"),
    pytest.param("loss: squared_error", "loss: squared", "problems[0].model.loss", 6, 47,
                 f"'squared' is not one of {list(LOSSES)}", id="unknown-loss"),
    pytest.param("dL_dw: 4", "dL_dq: 4", "problems[0].grade", 9, 23,
                 f"'dL_dq' is not one of {list(GRADIENT_SHAPES)}", id="unknown-graded-output"),
    pytest.param(GRADE_LINE, GRADE_LINE + "tolerance: {rtol: 1.0e-5}\n", "<root>", 10, 1,
                 "Additional properties are not allowed ('tolerance' was unexpected)", id="unexpected-top-key"),
    pytest.param("    points: 10\n", "", "problems[0]", 4, 5,
                 "'points' is a required property", id="missing-key"),
    pytest.param("title: tiny\n", "", "<root>", 1, 1, "'title' is a required property", id="missing-title"),
    pytest.param("y: [0.1, 0.2]}", "}", "problems[0].data", 8, 11,
                 "'y' is a required property", id="missing-y"),
    pytest.param("w: 0.8", "w: high", "problems[0].params.w", 7, 17,
                 "'high' is not of type 'number'", id="string-for-number"),
    pytest.param("points: 10", "points: true", "problems[0].points", 5, 13,
                 "True is not of type 'number'", id="boolean-for-number"),
    pytest.param("points: 10", "points: 0", "problems[0].points", 5, 13,
                 "0 is less than or equal to the minimum of 0", id="zero-points"),
    pytest.param("dL_dw: 4", "dL_dw: -4", "problems[0].grade.dL_dw", 9, 30,
                 "-4 is less than or equal to the minimum of 0", id="negative-grade-points"),
    pytest.param("{dL_ds: 6, dL_dw: 4}", "{}", "problems[0].grade", 9, 12,
                 "{} should be non-empty", id="empty-grade"),
    pytest.param(GRADE_LINE, "    tolerance: {rtol: -1.0e-6}\n" + GRADE_LINE, "problems[0].tolerance.rtol", 9, 23,
                 "-1e-06 is less than the minimum of 0", id="negative-rtol"),
    pytest.param(GRADE_LINE, GRADE_LINE + "defaults: {limits: {memory_mb: 32}}\n",
                 "defaults.limits.memory_mb", 10, 32, "32 is less than the minimum of 64", id="small-memory"),
    pytest.param(GRADE_LINE, GRADE_LINE + "limits: {memory_mb: 512.5}\n", "limits.memory_mb", 10, 21,
                 "512.5 is not of type 'integer'", id="fractional-memory"),
    pytest.param(GRADE_LINE, GRADE_LINE + "limits: {timeout: 0}\n", "limits.timeout", 10, 19,
                 "0 is less than or equal to the minimum of 0", id="zero-timeout"),
    pytest.param("{w: 0.8, v: -0.5}", "{random: {seed: -1, scale: 0.9}}", "problems[0].params.random.seed", 7, 29,
                 "-1 is less than the minimum of 0", id="negative-seed"),
    pytest.param("{w: 0.8, v: -0.5}", "{random: {seed: 1, scale: 0}}", "problems[0].params.random.scale", 7, 39,
                 "0 is less than or equal to the minimum of 0", id="zero-scale"),
    pytest.param("{w: 0.8, v: -0.5}", "{random: {seed: 1, scale: 1}, w: 1}", "problems[0].params", 7, 43,
                 "Additional properties are not allowed ('w' was unexpected)", id="random-and-given-params"),
    pytest.param("{x: [0.5, -1.0], y: [0.1, 0.2]}", "{random: {seed: 1, T: 0}}", "problems[0].data.random.T",
                 8, 33, "0 is less than the minimum of 1", id="zero-T"),
    pytest.param("{x: [0.5, -1.0], y: [0.1, 0.2]}", "{random: {seed: 1, T: 1000001}}",
                 "problems[0].data.random.T", 8, 33, "1000001 is greater than the maximum of 1000000",
                 id="huge-T"),
    pytest.param("x: [0.5, -1.0], y: [0.1, 0.2]", "x: [], y: []", "problems[0].data.x", 8, 15,
                 "[] should be non-empty", id="empty-x"),
    pytest.param("    points: 10\n", "    points: 10\n    visibility: secret\n", "problems[0].visibility", 6, 17,
                 "'secret' is not one of ['visible', 'hidden']", id="unknown-visibility"),
    pytest.param("id: p1", "id: p 1", "problems[0].id", 4, 9,
                 "'p 1' does not match '^[A-Za-z0-9_.-]+$'", id="id-pattern"),
    pytest.param(GRADE_LINE, GRADE_LINE + "entry_point: 2fast\n", "entry_point", 10, 14,
                 "'2fast' does not match '^[A-Za-z_][A-Za-z0-9_]*$'", id="entry-point-not-identifier"),
    pytest.param("schema_version: 1", "schema_version: 2", "schema_version", 1, 17,
                 "1 was expected", id="unknown-schema-version"),
])
def test_schema_violation_is_reported_at_its_field(tmp_path, old, new, field, line, column, message):
    assert where(error_for(tmp_path, base_with(old, new))) == (field, line, column, message)


def test_a_set_without_problems_is_rejected(tmp_path):
    error = error_for(tmp_path, "schema_version: 1\ntitle: tiny\nproblems: []\n")
    assert where(error) == ("problems", 3, 11, "[] should be non-empty")


# --- checks beyond the schema -----------------------------------------------------------

def test_x_and_y_of_different_lengths_are_rejected(tmp_path):
    error = error_for(tmp_path, base_with("y: [0.1, 0.2]", "y: [0.1]"))
    assert where(error) == ("problems[0].data.y", 8, 31,
                            "x and y differ in length (2 and 1): both need one value per time step")


def test_grade_points_must_sum_to_the_problem_points(tmp_path):
    error = error_for(tmp_path, base_with("dL_dw: 4", "dL_dw: 3"))
    assert where(error) == ("problems[0].grade", 9, 12,
                            "the graded outputs are worth 9 points in all, but the problem is worth 10")


def test_the_second_use_of_an_id_is_reported(tmp_path):
    second = BASE[BASE.index("  - id: p1"):]
    error = error_for(tmp_path, BASE + second)
    assert where(error) == ("problems[1].id", 10, 9, "'p1' is already the id of problems[0]")


@pytest.mark.parametrize("old, new, field, line, column, message", [
    pytest.param("w: 0.8", "w: .nan", "problems[0].params.w", 7, 17, "nan is not a finite number", id="nan"),
    pytest.param("y: [0.1, 0.2]", "y: [0.1, -.inf]", "problems[0].data.y[1]", 8, 37,
                 "-inf is not a finite number", id="minus-inf"),
    pytest.param(GRADE_LINE, GRADE_LINE + "defaults: {tolerance: {rtol: .inf}}\n", "defaults.tolerance.rtol", 10, 30,
                 "inf is not a finite number", id="inf-tolerance"),
    pytest.param("points: 10", "points: 1" + "0" * 400, "problems[0].points", 5, 13,
                 "an integer of 401 digits is beyond the float range", id="huge-integer"),
])
def test_numbers_must_be_finite(tmp_path, old, new, field, line, column, message):
    assert where(error_for(tmp_path, base_with(old, new))) == (field, line, column, message)


def test_labels_must_lie_in_the_loss_label_range(tmp_path):
    text = base_with("theta: identity, loss: squared_error", "theta: sigmoid, loss: binary_cross_entropy")
    error = error_for(tmp_path, text.replace("y: [0.1, 0.2]", "y: [1, 2]"))
    assert where(error) == ("problems[0].data.y[1]", 8, 35,
                            "2 is not a label binary_cross_entropy accepts: labels lie in [0.0, 1.0]")


def test_theta_must_fit_the_loss_prediction_range(tmp_path):
    error = error_for(tmp_path, base_with("loss: squared_error", "loss: binary_cross_entropy"))
    assert where(error) == ("problems[0].model.theta", 6, 31,
                            "binary_cross_entropy needs predictions in (0.0, 1.0), but theta 'identity' "
                            "gives values in (-inf, inf): use theta: sigmoid")


def test_entry_point_must_not_be_a_keyword(tmp_path):
    error = error_for(tmp_path, base_with(GRADE_LINE, GRADE_LINE + "entry_point: class\n"))
    assert where(error) == ("entry_point", 10, 14, "'class' is a Python keyword, so no function can have that name")


# --- unreadable and hostile files -------------------------------------------------------

def test_a_missing_file_is_reported_without_position(tmp_path):
    path = str(tmp_path / "absent.yaml")
    error = load_error(path)
    assert (error.line, error.field) == (None, None)
    assert str(error) == f"{path}: cannot read {path}: No such file or directory"


def test_a_directory_is_not_a_problem_set(tmp_path):
    assert load_error(str(tmp_path)).message == f"cannot read {tmp_path}: Is a directory"


def test_a_file_over_5_mb_is_rejected(tmp_path):
    error = error_for(tmp_path, "#" * (MAX_FILE_BYTES + 1))
    assert (error.line, error.message) == (None, "the file is larger than 5,242,880 bytes (5 MB)")


def test_bytes_that_are_not_utf8_are_located(tmp_path):
    path = tmp_path / "set.yaml"
    path.write_bytes(b"schema_version: 1\ntitle: caf\xe9\n")
    error = load_error(str(path))
    assert (error.line, error.column, error.message) == (2, 11, "not UTF-8: byte 0xe9 cannot be decoded")


def test_a_yaml_syntax_error_gives_the_mark_position(tmp_path):
    error = error_for(tmp_path, base_with("params: {w: 0.8, v: -0.5}", "params: {w: 0.8, v: -0.5"))
    assert (error.line, error.column, error.message) == (
        8, 9, "invalid YAML: while parsing a flow mapping, expected ',' or '}', but got ':'")


def test_an_error_libyaml_words_otherwise_is_worded_as_pyyaml_words_it(tmp_path):
    error = error_for(tmp_path, base_with("title: tiny", "title: tiny\n\tindented: 1"))
    assert (error.line, error.column, error.message) == (
        3, 1, "invalid YAML: while scanning for the next token, found character '\\t' that cannot start any token")


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="this PyYAML has no libyaml")
@pytest.mark.parametrize("text", [
    EXAMPLE, BASE, "title: café ✓ 𝔘\nx: [1, 2, {a: é, b: 2024-01-01}]\ny: =\nz: ~\n",
    "a: &x {b: 1}\nc: {<<: *x, d: 2}\ne:\n  <<: [*x]\n  f: [*x, *x]\n",
    "t: 'é'  # ✓\nu: \"\\u00e9\"\nv: 0o17\nw: 0x1F\nx: 1_000\ny: .inf\nz: -.NaN\nq: yes\nr: on\n",
    "k: |\n  multi ✓\n  line\nm: >\n  folded\n", "\ufeffa: 1\r\nb: [2, 3]\r\n", "? complex\n: value\n",
    "a: !!str 1\nb: !!int '3'\n"], ids=range(9))
def test_libyaml_composes_what_pyyaml_composes_with_the_same_positions(text):
    fast, slow = parse(text, "set.yaml", fast=True), parse(text, "set.yaml")
    assert repr(fast.data) == repr(slow.data)
    assert (fast.value_positions, fast.key_positions) == (slow.value_positions, slow.key_positions)


def test_a_control_character_is_located(tmp_path):
    error = error_for(tmp_path, base_with("title: tiny", "title: ti\x07ny"))
    assert (error.line, error.column, error.message) == (2, 10, "invalid YAML: character #x0007 is not allowed")


def test_a_python_tag_is_rejected_without_running_it(tmp_path):
    marker = tmp_path / "created-by-yaml"
    error = error_for(tmp_path, base_with("title: tiny", f'title: !!python/object/apply:os.system ["touch {marker}"]'))
    assert where(error) == ("title", 2, 8, "tag !!python/object/apply:os.system is not allowed: "
                                           "only plain data (mappings, lists, strings, numbers, booleans, null)")
    assert not marker.exists()


def test_a_local_tag_is_rejected(tmp_path):
    error = error_for(tmp_path, base_with("w: 0.8", "w: !weight 0.8"))
    assert (error.field, error.line, error.column) == ("problems[0].params.w", 7, 17)
    assert error.message.startswith("tag !weight is not allowed")


def test_an_alias_bomb_is_stopped(tmp_path):
    text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{name}: &{name} [{', '.join([f'*{previous}'] * 10)}]\n"
        for previous, name in zip("abcdef", "bcdefg", strict=True))
    error = error_for(tmp_path, text)
    assert (error.line, error.message) == (
        None, "the document has more than 200,000 nodes, counting each alias as a copy of its anchor "
              "(too large, or an alias bomb)")


def test_a_merge_key_bomb_is_stopped(tmp_path):
    text = "m0: &m0 {a: 1, b: 2}\n" + "".join(
        f"m{k}: &m{k} {{<<: [{', '.join([f'*m{k - 1}'] * 10)}]}}\n" for k in range(1, 9))
    assert error_for(tmp_path, text).message.startswith("the document has more than 200,000 nodes")


def test_nesting_deeper_than_python_recursion_is_rejected(tmp_path):
    error = error_for(tmp_path, "[" * 600 + "]" * 600)
    assert (error.line, error.message) == (None, "the document is nested too deeply (more than 64 levels)")


def test_nesting_deeper_than_64_levels_is_located(tmp_path):
    error = error_for(tmp_path, "title: " + "[" * 70 + "]" * 70)
    assert (error.line, error.column, error.message) == (1, 72, "nested more than 64 levels deep (aliases expanded)")


def test_an_alias_inside_its_own_anchor_is_an_endless_expansion(tmp_path):
    assert error_for(tmp_path, "a: &a [*a]\n").message.startswith("the document has more than 200,000 nodes")


def test_the_top_level_must_be_a_mapping(tmp_path):
    error = error_for(tmp_path, "- schema_version: 1\n")
    assert where(error) == ("<root>", 1, 1,
                            "the top level must be a mapping (schema_version, title, problems, …), not a list")


def test_an_empty_file_is_rejected(tmp_path):
    assert error_for(tmp_path, "# nothing\n").message == "the file holds no YAML document"


def test_a_second_document_is_rejected(tmp_path):
    error = error_for(tmp_path, BASE + "---\ntitle: more\n")
    assert (error.line, error.column, error.message) == (
        10, 1, "invalid YAML: expected a single document in the stream, but found another document")


def test_a_duplicate_block_key_is_reported_at_the_duplicate(tmp_path):
    error = error_for(tmp_path, base_with("    points: 10\n", "    points: 10\n    points: 12\n"))
    assert where(error) == ("problems[0].points", 6, 5, "duplicate key 'points' (first at line 5, column 5)")


def test_a_duplicate_flow_key_is_reported_at_the_duplicate(tmp_path):
    error = error_for(tmp_path, base_with("{w: 0.8, v: -0.5}", "{w: 0.8, w: -0.5}"))
    assert where(error) == ("problems[0].params.w", 7, 22, "duplicate key 'w' (first at line 7, column 14)")
