"""Print one line per (problem set, example): the SHA-256 of its JSON report with
`metadata.execution_time` removed. Run before and after a change that must not alter
behaviour; the two outputs must be identical (`diff`).

    python scripts/report_digests.py > before.txt   # … change …
    python scripts/report_digests.py > after.txt && diff before.txt after.txt
"""
import contextlib
import hashlib
import io
import json
import sys
from pathlib import Path

from grader.cli import main

ROOT = Path(__file__).resolve().parents[1]


def digest(problem_set: Path, example: Path) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        main(["grade", str(problem_set), str(example), "--include-hidden", "--format", "json"])
    report = json.loads(out.getvalue())
    report.get("metadata", {}).pop("execution_time", None)
    return hashlib.sha256(json.dumps(report, sort_keys=True).encode()).hexdigest()[:16]


def examples() -> list[Path]:
    return sorted(p for p in (ROOT / "examples").rglob("*.py") if p.stem not in ("student_math", "rnn_utils"))


if __name__ == "__main__":
    for problem_set in sorted((ROOT / "problem_sets").glob("*.yaml")):
        for example in examples():
            print(f"{problem_set.name} {example.relative_to(ROOT)} {digest(problem_set, example)}", flush=True)
    sys.exit(0)
