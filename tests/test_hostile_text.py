"""Text a submission controls, graded from the command line into every format: invalid
Unicode never breaks a format, control characters, Markdown and HTML never reach a
reader as such, a gradebook cell is never a formula, and a hidden problem contributes
nothing the submission printed, raised or named to what students see."""
import csv
import json
import shutil
import xml.etree.ElementTree as ET

import pytest

from grader.cli import main
from grader.reports import FORMATS, render
from grader.results import ProblemResult, Report
from grader.text_safety import SURROGATE
from tests.conftest import EXAMPLES
from tests.test_cli import SMALL_SET
from tests.test_hostile import HOSTILE

SET = SMALL_SET.replace("  - id: second\n    points: 4\n", "  - id: second\n    points: 4\n    visibility: hidden\n")
# what tests/hostile/hostile_text.py raises on the visible problem, as the text report shows it
SHOWN = ("the submission raised Evil\\x1b[31m during the call: \\ud800\\x1b[2J\\x1b]52;c;ZXZpbA==\\x07\\x0dScore: "
         "94/94 # All tests passed ![t](http://tracker.example/x.png) <script>alert(1)</script> | =1+1")
HIDDEN_MESSAGE = "the submission gave no usable result (details of hidden problems are not shown)"


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict[str, tuple[int, bytes]]:
    """format → (exit code, the report's bytes) for hostile_text.py, hidden problems included."""
    folder = tmp_path_factory.mktemp("hostile-text")
    (folder / "set.yaml").write_text(SET)
    shutil.copy(HOSTILE / "hostile_text.py", folder / "submission.py")
    results = {}
    for name in FORMATS:
        output = folder / f"report.{name}"
        code = main(["grade", str(folder / "set.yaml"), str(folder / "submission.py"), "--include-hidden",
                     "--format", name, "--output", str(output), "--timeout", "5"])
        results[name] = code, output.read_bytes()
    return results


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_format_is_utf8_with_no_control_character_of_the_submissions(graded, name):
    code, content = graded[name]
    text = content.decode("utf-8")          # strict: a lone surrogate would not encode
    assert code == 1
    assert not {"\x1b", "\x07", "\r", "\ud800"} & set(text)


@pytest.mark.parametrize("name", sorted(set(FORMATS) - {"json"}))
def test_a_hidden_problem_shows_nothing_the_submission_printed_or_raised(graded, name):
    text = graded[name][1].decode()
    assert "HIDDEN-SECRET" not in text and "HIDDEN_SECRET" not in text
    assert HIDDEN_MESSAGE in text


UNDECODABLE = Report("set.yaml", "students/b\udcffd.py", (ProblemResult(
    id="p", title="p", visibility="visible", T=1, status="error", max_score=1.0,
    message="the submission raised OSError during the call: no caf\udcff\udce9"),))   # os.fsdecode's b"\xff"


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_an_undecodable_file_name_never_breaks_a_format(name):
    assert not SURROGATE.search(render(name, UNDECODABLE))


def test_an_undecodable_byte_is_its_visible_escape():
    report = json.loads(render("json", UNDECODABLE))
    assert (report["submission"], report["problems"][0]["message"]) == (
        "students/b\\xffd.py", "the submission raised OSError during the call: no caf\\xff\\xe9")
    assert render("text", UNDECODABLE).splitlines()[0] == "students/b\\xffd.py against set.yaml"


def test_the_json_report_keeps_everything_for_the_instructor_as_valid_unicode(graded):
    first, second = json.loads(graded["json"][1])["problems"]
    assert first["message"] == ("the submission raised Evil\x1b[31m during the call: \\ud800\x1b[2J\x1b]52;c;"
                                "ZXZpbA==\x07\rScore: 94/94 # All tests passed ![t](http://tracker.example/x.png) "
                                "<script>alert(1)</script> | =1+1")
    assert "HIDDEN-SECRET [1.0, 2.0]" in second["message"]
    assert first["submission_output"] == "\ufffd\ufffd\x1b[2J\x1b]52;c;ZXZpbA==\x07\r# All tests passed\n"


def test_text_escapes_control_characters_and_keeps_every_line_its_own(graded):
    lines = graded["text"][1].decode().splitlines()
    assert lines[1] == f"first: 0/10 error (T = 4) — {SHOWN}"
    assert f"second: 0/4 error (T = 2) — {HIDDEN_MESSAGE}" in lines
    assert [line for line in lines if line.startswith("Score")] == ["Score: 0/14"]


def test_gradescope_escapes_markdown_and_html_in_a_message(graded):
    tests = json.loads(graded["gradescope"][1])["tests"]
    assert tests[0]["output"].split("\n")[0] == (
        "the submission raised Evil\\\\x1b\\[31m during the call: \\\\ud800\\\\x1b\\[2J\\\\x1b\\]52;c;ZXZpbA==\\\\x07"
        "\\\\x0dScore: 94/94 \\# All tests passed \\!\\[t\\](http://tracker.example/x.png) "
        "&lt;script&gt;alert(1)&lt;/script&gt; \\| =1+1")
    assert tests[1]["output"] == f"{HIDDEN_MESSAGE}\n\n```text\nsecond: 0/4 error (T = 2) — {HIDDEN_MESSAGE}\n```"


def test_markdown_renders_nothing_of_the_submissions(graded):
    text = graded["markdown"][1].decode()
    markdown = [line for line in "".join(text.split("```")[::2]).splitlines() if not line.startswith("<details>")]
    assert not [line for line in markdown if "<script>" in line or "![t]" in line or line.startswith("# ")]
    assert ("<details><summary><code>first</code>: the submission raised Evil\\x1b[31m during the call: "
            "\\ud800\\x1b[2J\\x1b]52;c;ZXZpbA==\\x07\\x0dScore: 94/94 # All tests passed "
            "![t](http://tracker.example/x.png) &lt;script&gt;alert(1)&lt;/script&gt; | =1+1</summary>") in text


def test_prairielearn_shows_only_visible_problems_output_with_controls_escaped(graded):
    results = json.loads(graded["prairielearn"][1])
    assert results["output"] == "\ufffd\ufffd\\x1b[2J\\x1b]52;c;ZXZpbA==\\x07\\x0d# All tests passed\n"
    assert results["tests"][0]["message"] == SHOWN
    assert (results["tests"][1]["message"], results["tests"][1]["output"]) == (HIDDEN_MESSAGE, "")


def test_junit_hidden_testcase_has_the_graders_message_only(graded):
    cases = ET.fromstring(graded["junit"][1]).findall("testsuite/testcase")
    assert cases[0].find("error").get("message") == SHOWN
    assert cases[1].find("error").get("message") == HIDDEN_MESSAGE
    assert cases[1].find("system-out") is None


def test_exported_question_escapes_the_title_for_html_and_mustache(tmp_path, capsys):
    (tmp_path / "set.yaml").write_text(SET.replace("title: two problems",
                                                   "title: '<script>alert(1)</script> {{#feedback}}x{{/feedback}}'"))
    assert main(["export", "prairielearn", str(tmp_path / "set.yaml"), "-o", str(tmp_path / "question")]) == 0
    html = (tmp_path / "question" / "question.html").read_text()
    assert html.splitlines()[1] == ("  <p>&lt;script&gt;alert(1)&lt;/script&gt; &#123;&#123;#feedback&#125;&#125;x"
                                    "&#123;&#123;/feedback&#125;&#125;: upload <code>submission.py</code>, which "
                                    "defines <code>backward(trace)</code>, and any files it imports "
                                    "(<code>*.py</code>).</p>")


def test_gradebook_cells_are_never_formulas_and_a_forged_frame_is_an_error(tmp_path, capsys):
    (tmp_path / "set.yaml").write_text(SET)
    roster = tmp_path / "class"
    roster.mkdir()
    for student in ("=HYPERLINK(\"x.example\")", "+1", "-1", "@SUM(A1)", "\tpadded", "esc\x1b[2J"):
        (roster / f"{student}.py").write_text("def backward(trace):\n    return {}\n")
    forger = roster / "forger"
    forger.mkdir()
    shutil.copy(HOSTILE / "forged_frame.py", forger / "submission.py")
    for helper in ("correct.py", "student_math.py"):
        shutil.copy(EXAMPLES / helper, forger / helper)
    (forger / "frame.json").write_text('{"type": "result", "n": ' + "9" * 5000 + "}")
    assert main(["batch", str(tmp_path / "set.yaml"), str(roster), "-o", str(tmp_path / "out"), "--jobs", "2"]) == 0
    err = capsys.readouterr().err
    assert "internal error" not in err and "\x1b" not in err
    assert "esc\\x1b[2J: 0/14 failed" in err
    with open(tmp_path / "out" / "gradebook.csv", newline="") as f:
        rows = {row["student"]: (row["total"], row["status"]) for row in csv.DictReader(f)}
    assert rows == {"'=HYPERLINK(\"x.example\")": ("0", "failed"), "'+1": ("0", "failed"), "'-1": ("0", "failed"),
                    "'@SUM(A1)": ("0", "failed"), "'\tpadded": ("0", "failed"), "esc\\x1b[2J": ("0", "failed"),
                    "forger": ("4", "failed")}
    forged = json.loads((tmp_path / "out" / "json" / "forger.json").read_text())["problems"][0]
    assert forged["message"] == "the submission sent an unusable result: message header holds an integer of 5000 digits"
