"""Print one line per command output the grader shows a user: the SHA-256 of the JSON and
the text report of every example graded against every shipped problem set (hidden problems
included, `metadata.execution_time` removed), and of `audit` (text, json) and
`check-reference` on every shipped set. Run before and after a change that must not alter
behaviour, from the project's root; the two outputs must be identical (`diff`).

    python scripts/report_digests.py > before.txt   # … change …
    python scripts/report_digests.py > after.txt && diff before.txt after.txt
"""
import contextlib
import hashlib
import io
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path.cwd()))
from grader.cli import main  # noqa: E402  (the checkout in the current folder)

ROOT = Path.cwd()


def output_of(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(list(args))
    return code, out.getvalue()


def digest(text: str) -> str:
    """Of `text` with the checkout's own path (in tracebacks) removed, so checkouts compare."""
    return hashlib.sha256(text.replace(str(ROOT), "ROOT").encode()).hexdigest()[:16]


def report_digests(problem_set: Path, example: Path) -> str:
    code, text = output_of("grade", str(problem_set), str(example), "--include-hidden", "--format", "json")
    report = json.loads(text)
    report.get("metadata", {}).pop("execution_time", None)
    _, plain = output_of("grade", str(problem_set), str(example), "--include-hidden", "--format", "text")
    return f"{code} json {digest(json.dumps(report, sort_keys=True))} text {digest(plain)}"


def examples() -> list[Path]:
    return sorted(p.relative_to(ROOT) for p in (ROOT / "examples").rglob("*.py")
                  if p.stem not in ("student_math", "rnn_utils"))


if __name__ == "__main__":
    for problem_set in sorted(p.relative_to(ROOT) for p in (ROOT / "problem_sets").glob("*.yaml")):
        name = problem_set.name
        for fmt in ("text", "json"):
            code, text = output_of("audit", str(problem_set), "--format", fmt)
            print(f"{name} audit {fmt} {code} {digest(text)}", flush=True)
        code, text = output_of("check-reference", str(problem_set))
        print(f"{name} check-reference {code} {digest(re.sub(r'error [0-9.e+-]+', 'error …', text))}", flush=True)
        for example in examples():
            print(f"{name} {example} {report_digests(problem_set, example)}", flush=True)
