"""Hostile submissions (tests/hostile/, one attack each) graded from the command line.

Each is graded on a two-problem set; the attack targets the first problem (T = 4) where it
can, and answers honestly otherwise. Every test checks the exact outcome, the exit code,
that the report file is valid, and that no process of the submission outlives the grader.
"""
import json
import os
import shutil
import socket
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest

from grader import sandbox
from grader.cli import main
from tests.conftest import EXAMPLES, NOT_IMPORTED, ROOT, problem_said
from tests.test_cli import REPORT_SCHEMA, SMALL_SET

HOSTILE = Path(__file__).with_name("hostile")
NAMESPACES = pytest.mark.skipif(sandbox.unavailable("namespaces") is not None,
                                reason=f"namespaces isolation unavailable: {sandbox.unavailable('namespaces')}")
LEVELS = [pytest.param("namespaces", marks=NAMESPACES), "rlimits"]



@dataclass
class Graded:
    code: int
    report: dict
    folder: Path                 # the submission's own folder
    leftovers: list[int]         # pids of processes still naming that folder

    @property
    def first(self) -> dict:
        return self.report["problems"][0]

    @property
    def second(self) -> dict:
        return self.report["problems"][1]


def processes_naming(marker: str) -> list[int]:
    """Live processes whose command line contains `marker` (every process of a sandbox
    does: the child's settings, and so each fork of it, name the submission's folder)."""
    found = []
    for entry in os.scandir("/proc"):
        try:
            if entry.name.isdigit() and marker.encode() in Path(entry.path, "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.fixture
def grade_attack(tmp_path, capsys):
    """grade_attack(name, *options, isolation="auto", files={}, before=f) grades
    tests/hostile/NAME.py against test_cli's two-problem set from the CLI, with --output and
    --timeout 1 (options may override it; "{folder}" in one is the submission's folder),
    after f(folder), and returns a Graded. The submission gets a world-readable folder of its
    own (at the rlimits level as root it runs as nobody), beside an honest correct.py, an
    answers.txt and `files` (name → bytes)."""
    folders = []
    listener = socket.create_server(("127.0.0.1", 0))

    def grade_attack(name: str, *options: str, isolation: str = "auto",
                     files: dict[str, bytes] | None = None, before=lambda folder: None) -> Graded:
        folder = Path(tempfile.mkdtemp(prefix=f"bptt-hostile-{name}-"))
        folders.append(folder)
        folder.chmod(0o755)
        shutil.copy(HOSTILE / f"{name}.py", folder / "submission.py")
        for helper in ("correct.py", "student_math.py"):
            shutil.copy(EXAMPLES / helper, folder / helper)
        problem_set = tmp_path / "sets" / "set.yaml"
        problem_set.parent.mkdir(exist_ok=True)
        problem_set.write_text(SMALL_SET)
        report = tmp_path / "report.json"
        elsewhere = tmp_path / "another-student" / "solution.py"      # anything outside its view
        elsewhere.parent.mkdir(exist_ok=True)
        elsewhere.write_text("def backward(trace): ...\n")
        (folder / "answers.txt").write_text("what an instructor left beside the submission\n")
        for file_name, content in (files or {}).items():
            (folder / file_name).write_bytes(content)
        (folder / "targets.json").write_text(json.dumps({
            "reference": str(ROOT / "reference" / "scalar.py"), "grader": str(ROOT / "grader" / "grading.py"),
            "problem_set": str(problem_set), "elsewhere": str(elsewhere), "answers": str(folder / "answers.txt"),
            "report": str(report), "port": listener.getsockname()[1]}))
        for path in folder.iterdir():
            path.chmod(path.stat().st_mode | stat.S_IROTH)
        before(folder)
        code = main(["grade", str(problem_set), str(folder / "submission.py"), "--format", "json", "--output",
                     str(report), "--isolation", isolation, "--timeout", "1",
                     *(o.format(folder=folder) for o in options)])
        assert capsys.readouterr().out == ""
        document = json.loads(report.read_text())
        jsonschema.validate(document, REPORT_SCHEMA)
        return Graded(code, document, folder, processes_naming(str(folder)))

    grade_attack.listener = listener
    yield grade_attack
    listener.close()
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


# name, options, first problem's (status, score, message), second problem's status
ATTACKS = [
    ("infinite_loop", ["--timeout", "0.5"], ("error", 0, "the submission timed out after 0.5 s"), "passed"),
    ("import_loop", ["--timeout", "0.5"],
     ("error", 0, "the submission timed out after 0.5 s importing the submission"), "error"),
    ("sigterm_ignored", ["--timeout", "0.5"], ("error", 0, "the submission timed out after 0.5 s"), "passed"),
    ("memory_bomb", ["--memory-limit", "512"],
     ("error", 0, "the submission ran out of memory during the call (the limit is 512 MB)"), "passed"),
    ("import_reference", [], ("error", 0, "(tried to import reference, which submissions may not)"), "error"),
    ("import_grader_quietly", [], ("error", 0, "the submission tried to import grader, which submissions may not"),
     "error"),
    ("forged_stdout", [],
     ("failed", 0, "dL_ds is all zeros: starter code left in place?; dL_dw differs; dL_dv differs"),
     "failed"),
    ("sys_exit", [], ("error", 0, "the submission exited with sys.exit(0) during the call"), "passed"),
    ("os_exit", [], ("error", 0, "the submission exited with status 0 during the call"), "passed"),
    ("monkeypatched_comparisons", [], ("failed", 0, "dL_ds is all zeros: starter code left in place?"), "failed"),
    ("lying_numbers", [], ("failed", 0, "dL_ds first diverges at t = 4; dL_dw differs; dL_dv differs"), "failed"),
    ("output_flood", [], ("error", 0, "the submission printed more than 16 MB"), "passed"),
    ("nan_inf", [], ("error", 2, "dL_ds is NaN at t = 2; dL_dw is infinite"), "error"),
    ("wrong_shapes", [], ("error", 0, "dL_ds has shape (4, 1), expected (4,); dL_dw has 2 values, expected shape (); "
                                      "dL_dv is a str, not numbers"), "error"),
    ("raises", [], ("error", 0, "the submission raised ValueError during the call: my bug"), "error"),
    ("syntax_error", [], ("error", 0, "the submission raised SyntaxError while importing"), "error"),
    ("no_entry_point", [], ("error", 0, "the submission defines no function 'backward'"), "error"),
    ("trace_mutation", [],
     ("error", 0, "the submission raised ValueError during the call: assignment destination is read-only"), "passed"),
    ("infinite_recursion", [],
     ("error", 0, "the submission raised RecursionError during the call: maximum recursion depth exceeded"), "error"),
    ("segfault", [], ("error", 0, "the submission was killed by SIGSEGV (a segmentation fault) during the call"),
     "passed"),
    ("returns_none", [], ("error", 0, "the submission returned NoneType, not a mapping"), "error"),
    ("huge_array", [], ("error", 4, "dL_ds has 50000000 values, expected shape (4,)"), "error"),
    ("slow_correct", ["--timeout", "5"], ("passed", 10, "every graded output matches"), "passed"),
    ("forged_channel", [], ("error", 0, "the submission sent an unusable result: message header of "
                                        "18446744073709551615 bytes is over the limit"), "passed"),
    ("forged_result", [],
     ("error", 0, "dL_dw is missing; dL_dv is missing; dL_ds is all zeros: starter code left in place?"),
     "error"),
    ("reads_stdin", [], ("error", 0, "the submission raised EOFError during the call: EOF when reading a line"),
     "error"),
]


@pytest.mark.parametrize("name, options, first, second_status", ATTACKS, ids=[a[0] for a in ATTACKS])
def test_attack_is_contained_with_its_exact_outcome(grade_attack, name, options, first, second_status):
    graded = grade_attack(name, *options)
    status, score, message = first
    assert (graded.first["status"], graded.first["score"]) == (status, score)
    assert message in problem_said(graded.report, graded.first)
    assert graded.second["status"] == second_status
    assert graded.code == (0 if status == second_status == "passed" else 1)
    assert graded.leftovers == []


# Attacks whose outcome is the same at every level, graded at the weaker one too (the table
# above runs at "auto": the strongest this host allows).
EVERY_LEVEL = ["infinite_loop", "os_exit", "segfault", "output_flood", "forged_stdout", "import_reference"]


# A malformed result frame, as forged_frame.py sends it: the first problem's message after
# "the submission ", and the second problem's status
FORGED_FRAMES = [
    (b'{"type": "result", "n": ' + b"9" * 5000 + b"}",
     "sent an unusable result: message header holds an integer of 5000 digits", "passed"),
    (b'{"type": "result", "outputs": {"dL_ds": {"$array": 0, "shape": [' + b", ".join([b"1"] * 65) + b']}}, '
     b'"problems": {}}', "sent an unusable result: array of 65 dimensions, more than 32", "passed"),
    (b'{"type": "result", "outputs": {"dL_ds": {"$array": 0, "shape": [0, 18446744073709551616]}}, "problems": {}}',
     "sent an unusable result: empty array with a dimension of 18446744073709551616, over the limit of 8388608",
     "passed"),
    (b"[" * 50_000 + b"]" * 50_000, "sent an unusable result: message header is nested too deeply", "passed"),
    (b'{"type": "result", "outputs": [1, 2], "problems": "none"}', "sent an unusable result during the call",
     "passed"),
    (b'{"type": "result\xff"}', "sent an unusable result: message header is not JSON: 'utf-8' codec can't "
     "decode byte 0xff in position 16: invalid start byte", "passed"),
    # well-formed, with the wrong types: taken as text, and the process (which exited) fails the next call
    (b'{"type": "error", "kind": {"not": "a name"}, "message": [1], "traceback": 7}',
     "raised (dict) during the call: (list)", "error"),
]


@pytest.mark.parametrize("frame, message, second_status", FORGED_FRAMES, ids=range(len(FORGED_FRAMES)))
def test_a_malformed_result_frame_is_that_problems_unusable_result(grade_attack, frame, message, second_status):
    graded = grade_attack("forged_frame", files={"frame.json": frame})
    assert (graded.code, graded.first["status"], graded.first["score"], graded.first["message"]) == (
        1, "error", 0, f"the submission {message}")
    assert graded.second["status"] == second_status
    assert graded.leftovers == []


@pytest.mark.parametrize("name", EVERY_LEVEL)
def test_attack_is_contained_at_the_rlimits_level(grade_attack, name):
    _, options, (status, score, message), second_status = next(a for a in ATTACKS if a[0] == name)
    graded = grade_attack(name, *options, isolation="rlimits")
    assert graded.report["metadata"]["isolation"] == "rlimits"
    assert (graded.first["status"], graded.first["score"], graded.second["status"]) == (status, score, second_status)
    assert message in problem_said(graded.report, graded.first)
    assert graded.leftovers == []


@pytest.mark.parametrize("isolation", LEVELS)
def test_a_daemon_that_ran_is_gone_and_the_report_is_the_graders(grade_attack, isolation):
    graded = grade_attack("daemon_rewrites_report", isolation=isolation)
    report = Path(json.loads((graded.folder / "targets.json").read_text())["report"])
    assert (graded.code, graded.report["score"], graded.leftovers) == (0, 14, [])
    assert graded.first["submission_output"] == "daemon up\n"
    assert json.loads(report.read_text()) == graded.report


def test_output_flood_shows_only_the_start_of_what_was_printed(grade_attack):
    output = grade_attack("output_flood").first["submission_output"]
    assert output.startswith("x" * 4000 + "\n[… ")
    assert len(output) < 4100


def test_forged_stdout_stays_in_the_submissions_output(grade_attack):
    graded = grade_attack("forged_stdout")
    assert graded.report["score"] == 0
    assert graded.first["submission_output"].count('"score": 14') == 2       # the import's print, then the call's
    assert graded.second["submission_output"].count('"score": 14') == 1      # its own call only


def test_raised_error_shows_only_the_students_frames(grade_attack):
    traceback = grade_attack("raises").first["traceback"]
    assert 'submission.py", line 9, in backward' in traceback
    assert 'submission.py", line 5, in helper' in traceback
    assert "child.py" not in traceback and traceback.endswith("ValueError: my bug\n")


@pytest.mark.parametrize("isolation", LEVELS)
def test_process_storm_children_are_all_gone_when_the_grader_returns(grade_attack, isolation):
    graded = grade_attack("process_storm", "--timeout", "5", isolation=isolation)     # 100 forks on a loaded host
    started = int(graded.first["submission_output"].removeprefix("children started: "))
    assert (graded.code, graded.report["score"], graded.leftovers) == (0, 14, [])
    assert started > 0


@NAMESPACES
def test_kill_parent_cannot_stop_the_grading(grade_attack):
    graded = grade_attack("kill_parent")
    assert (graded.code, graded.report["score"], graded.leftovers) == (0, 14, [])


@NAMESPACES
def test_kill_everything_reaches_only_the_sandbox(grade_attack):
    graded = grade_attack("kill_everything")
    assert (graded.code, graded.report["score"], graded.leftovers) == (0, 14, [])


@NAMESPACES
def test_only_the_submissions_own_folder_is_readable(grade_attack):
    graded = grade_attack("reads_hidden_files")
    assert graded.first["status"] == "passed"
    assert graded.first["submission_output"] == "readable: ['answers']\n"


@NAMESPACES
def test_hide_covers_a_file_in_the_submissions_folder(grade_attack):
    graded = grade_attack("reads_hidden_files", "--hide", "{folder}/answers.txt")
    assert graded.first["submission_output"] == "readable: []\n"


@NAMESPACES
def test_problem_set_beside_the_submission_is_hidden_too(grade_attack, tmp_path, capsys):
    graded = grade_attack("reads_hidden_files")      # a first run, to get a folder to put the set in
    beside = graded.folder / "set.yaml"
    shutil.copy(tmp_path / "sets" / "set.yaml", beside)
    beside.chmod(0o644)
    targets = json.loads((graded.folder / "targets.json").read_text())
    (graded.folder / "targets.json").write_text(json.dumps({**targets, "problem_set": str(beside)}))
    assert main(["grade", str(beside), str(graded.folder / "submission.py"), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["problems"][0]["submission_output"] == "readable: ['answers']\n"


@NAMESPACES
def test_network_is_unreachable(grade_attack):
    graded = grade_attack("network")
    grade_attack.listener.settimeout(0)
    with pytest.raises(BlockingIOError):
        grade_attack.listener.accept()
    assert graded.first["submission_output"] == "network: blocked\n"


@NAMESPACES
def test_filesystem_is_read_only_but_tmp_is_private_and_writable(grade_attack):
    graded = grade_attack("writes_files")
    assert graded.first["submission_output"] == "own folder: False tmp: True\n"
    assert not (graded.folder / "planted.txt").exists()
    assert not Path(f"/tmp/planted-{graded.folder.name}").exists()


@NAMESPACES
def test_limits_are_applied_and_the_trace_holds_no_gradient(grade_attack):
    printed = grade_attack("reports_limits").first["submission_output"].splitlines()
    assert printed == ["uid 65534",                     # unmapped in the worker's nested user namespace
                       "RLIMIT_AS 1073741824 1073741824",
                       "RLIMIT_CPU 3 6",         # soft: ⌈CPU used⌉ = 1, + 2 s a call; hard: 2 s × (2 calls + import)
                       "RLIMIT_FSIZE 16777216 16777216",
                       "RLIMIT_NOFILE 64 64",
                       "RLIMIT_NPROC 64 64",
                       "RLIMIT_CORE 0 0",
                       "trace: T h h0 loss phi s theta v w x y y_hat"]


def test_rlimits_level_runs_a_root_graders_submission_as_nobody(grade_attack):
    printed = grade_attack("reports_limits", isolation="rlimits").first["submission_output"].splitlines()
    assert printed[0] == f"uid {65534 if os.geteuid() == 0 else os.geteuid()}"
    assert "RLIMIT_NOFILE 64 64" in printed


@pytest.fixture
def no_unshare(monkeypatch):
    """A host without unshare(1): the namespaces level's wrapper does not exist."""
    broken = sandbox.Level("namespaces", ("no-such-unshare",), private_view=True)
    monkeypatch.setitem(sandbox.LEVELS, "namespaces", broken)
    sandbox.unavailable.cache_clear()
    yield
    sandbox.unavailable.cache_clear()


def test_auto_falls_back_to_rlimits_and_says_so(no_unshare, grade_attack):
    graded = grade_attack("slow_correct", "--timeout", "5")
    assert (graded.code, graded.report["metadata"]["isolation"]) == (0, "rlimits")


def test_an_unavailable_level_asked_for_exits_2(no_unshare, capsys):
    code = main(["grade", str(ROOT / "problem_sets" / "scalar_bptt.yaml"), str(EXAMPLES / "correct.py"),
                 "--isolation", "namespaces"])
    assert code == 2
    assert capsys.readouterr().err == ("bptt-grade: isolation level 'namespaces' is not available here: "
                                       "no-such-unshare is not installed\n")


@NAMESPACES
def test_batch_hides_classmates_from_each_other(tmp_path):
    """In a class folder of .py files each file's folder is the class's: a copy of a
    correct classmate must not import it."""
    (tmp_path / "class").mkdir()
    (tmp_path / "class" / "ada.py").write_text("def backward(trace):\n    return {}\n")
    (tmp_path / "class" / "copycat.py").write_text("from ada import backward\n")
    (tmp_path / "set.yaml").write_text(SMALL_SET)
    assert main(["batch", str(tmp_path / "set.yaml"), str(tmp_path / "class"), "-o", str(tmp_path / "out")]) == 0
    copycat = json.loads((tmp_path / "out" / "json" / "copycat.json").read_text())
    assert copycat["problems"][0]["message"] == NOT_IMPORTED
    assert copycat["metadata"]["import_error"] == (
        "the submission raised ModuleNotFoundError while importing: No module named 'ada'")
