"""`validate` from the command line: every error of every problem, sorted by position, and
the size caps (total work Σ N·T·H, numbers per vector problem) with the flags that raise them."""
import zipfile

from grader.cli import main

SEVERAL_MISTAKES = """\
schema_version: 1
title: several mistakes
problems:
  - id: bad-phi
    points: 10
    model: {phi: tanhh, theta: identity, loss: squared_error}
    params: {w: 0.8, v: -0.5}
    data: {x: [0.5, -1.0], y: [0.1, 0.2]}
    grade: {dL_ds: 10}
  - id: short-y
    points: 10
    model: {phi: tanh, theta: identity, loss: squared_error}
    params: {w: 0.8, v: .inf}
    data: {x: [0.5, -1.0], y: [0.1]}
    grade: {dL_ds: 10}
  - id: misspelt
    points: 10
    model: {phii: tanh, theta: identity, loss: squared_error}
    params: {w: 0.8, v: -0.5}
    data: {x: [0.5, -1.0], y: [0.1, 0.2]}
    grade: {dL_ds: 10}
  - id: short-y
    points: 10
    model: {phi: tanh, theta: identity, loss: squared_error}
    params: {w: 0.8, v: -0.5}
    data: {x: [0.5, -1.0], y: [0.1]}
    grade: {dL_ds: 4}
  - id: fine
    points: 10
    model: {phi: tanh, theta: identity, loss: squared_error}
    params: {w: 0.8, v: -0.5}
    data: {x: [0.5, -1.0], y: [0.1, 0.2]}
    grade: {dL_ds: 10}
"""


def long_problems(count: int, T: int) -> str:
    return "schema_version: 1\ntitle: long\nproblems:\n" + "".join(
        f"  - id: long-{i}\n    points: 1\n    model: {{phi: tanh, theta: identity, loss: squared_error}}\n"
        f"    params: {{random: {{seed: 1, scale: 0.5}}}}\n    data: {{random: {{seed: {i}, T: {T}}}}}\n"
        "    grade: {dL_ds: 1}\n" for i in range(count))


def test_validate_reports_every_error_of_every_problem_sorted_by_position(tmp_path, capsys):
    path = tmp_path / "set.yaml"
    path.write_text(SEVERAL_MISTAKES)
    assert main(["validate", str(path)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{path}:6:18: problems[0].model.phi: 'tanhh' is not one of "
        "['identity', 'tanh', 'sigmoid', 'relu', 'leaky_relu', 'softplus', 'sin']",
        f"{path}:13:25: problems[1].params.v: inf is not a finite number",
        f"{path}:18:12: problems[2].model: 'phi' is a required property",
        f"{path}:18:13: problems[2].model: Additional properties are not allowed ('phii' was unexpected)",
        f"{path}:22:9: problems[3].id: 'short-y' is already the id of problems[1]",
        f"{path}:27:12: problems[3].grade: the graded outputs are worth 4 points in all, but the problem is worth 10",
    ]


def test_validate_reports_each_file_and_exits_2_if_any_is_invalid(tmp_path, capsys):
    (tmp_path / "bad.yaml").write_text(SEVERAL_MISTAKES)
    (tmp_path / "good.yaml").write_text(long_problems(2, 5))
    assert main(["validate", str(tmp_path / "bad.yaml"), str(tmp_path / "good.yaml")]) == 2
    captured = capsys.readouterr()
    assert captured.out.splitlines()[0] == f"{tmp_path / 'good.yaml'}: valid, 2 problems (2 visible, 0 hidden)"
    assert len(captured.err.splitlines()) == 6 + sum(" warning: " in line for line in captured.err.splitlines())


def test_too_much_work_is_an_error_naming_the_cap_and_the_flag(tmp_path, capsys):
    path = tmp_path / "set.yaml"
    path.write_text(long_problems(8, 1_000_000))
    assert main(["validate", str(path)]) == 2
    assert capsys.readouterr().err == (
        f"{path}:4:3: problems: the problems ask for 8,000,000 steps of work (Σ N·T·H, T for a scalar problem), "
        "more than 2,000,000: make them smaller or fewer, or pass --max-work 8000000\n")


def test_grade_refuses_too_much_work_before_running_anything(tmp_path, capsys):
    path = tmp_path / "set.yaml"
    path.write_text(long_problems(3, 1_000_000))
    assert main(["grade", str(path), str(tmp_path / "never-read.py")]) == 2
    assert capsys.readouterr().err.startswith(f"bptt-grade: {path}:4:3: problems: the problems ask for 3,000,000 ")


def test_max_work_sets_the_cap(tmp_path, capsys):
    path = tmp_path / "set.yaml"
    path.write_text(long_problems(3, 100))
    assert main(["validate", str(path), "--max-work", "299"]) == 2
    assert capsys.readouterr().err == (
        f"{path}:4:3: problems: the problems ask for 300 steps of work (Σ N·T·H, T for a scalar problem), "
        "more than 299: make them smaller or fewer, or pass --max-work 300\n")
    assert main(["validate", str(path), "--max-work", "300"]) == 0
    assert capsys.readouterr().out == f"{path}: valid, 3 problems (3 visible, 0 hidden)\n"


def test_max_numbers_sets_the_cap_on_a_vector_problems_arrays(tmp_path, capsys):
    path = tmp_path / "set.yaml"
    path.write_text("schema_version: 1\ntitle: wide\ncontract: cs231n\nproblems:\n  - id: wide\n    points: 1\n"
                    "    sizes: {N: 10, T: 10, D: 5, H: 2}\n    model: {phi: tanh, loss: upstream}\n"
                    "    params: {random: {seed: 1, scale: 0.5}}\n    data: {random: {seed: 2}}\n    grade: {h: 1}\n")
    assert main(["validate", str(path), "--max-numbers", "713"]) == 2
    assert capsys.readouterr().err == (
        f"{path}:7:12: problems[0].sizes: its arrays would hold 714 numbers, more than 713: "
        "make N, T, D, H or O smaller, or pass --max-numbers 714\n")
    assert main(["validate", str(path), "--max-numbers", "714"]) == 0


def test_a_cap_that_is_not_a_positive_whole_number_is_a_usage_error(tmp_path, capsys):
    path = tmp_path / "set.yaml"
    path.write_text(long_problems(1, 5))
    for bad in ("0", "-5", "1e9", "٣"):
        try:
            main(["validate", str(path), "--max-work", bad])
        except SystemExit as exit:
            assert exit.code == 2
        assert f"argument --max-work: {bad!r} is not a whole number of at least 1" in capsys.readouterr().err


def test_export_carries_a_raised_cap_into_the_platforms_grade_command(tmp_path, capsys):
    path = tmp_path / "set.yaml"
    path.write_text(long_problems(3, 100))
    zipped = tmp_path / "autograder.zip"
    assert main(["export", "gradescope", str(path), "-o", str(zipped), "--max-work", "300"]) == 0
    with zipfile.ZipFile(zipped) as bundle:
        assert "--hidden-visibility after_published --max-work 300 " in bundle.read("run_autograder").decode()
