"""Autograder bundles for the platforms that run graders in their own containers.

`export("gradescope", …)` writes a zip with, at its root, Gradescope's setup.sh and
run_autograder, the problem set, requirements.txt and this grader's source (bptt_grade/).
`export("prairielearn", …)` writes a question folder: info.json (external grading),
question.html (a file upload and the results; every text in it escaped for HTML and
mustache) and tests/ (run.sh, the problem set, requirements.txt, bptt_grade/), which
PrairieLearn mounts at /grade/tests.
Either grades the student's files with hidden problems included.

Gradescope unpacks a submitted zip as it is, so its bundle looks for the entry file at any
depth (`**/*.py`, with grader.submissions' entry-file rules). A PrairieLearn question asks
for the entry file and accepts helper files beside it (names or patterns); an export into
the folder of an existing question keeps its uuid, and replaces a question with another
title only when forced.
"""
import io
import json
import math
import shlex
import uuid
import zipfile
from dataclasses import dataclass, fields
from importlib import metadata
from pathlib import Path

import grader
import reference
from grader import loader
from grader.atomic import write_atomically
from grader.contracts import describe_functions
from grader.errors import UsageError
from grader.problem_set import ProblemSet
from grader.text_safety import html_text

SOURCE_DIR = "bptt_grade"           # the grader's source inside a bundle
PROBLEM_SET_NAME = "problem_set.yaml"
PRAIRIELEARN_IMAGE = "prairielearn/grader-python"
PRAIRIELEARN_MAX_TIMEOUT = 600      # seconds, PrairieLearn's limit for a grading job
JOB_OVERHEAD = 20                   # seconds added to the problems' timeouts for a whole job
GRADESCOPE_ENTRY = "**/*.py"        # a submitted zip may hold a folder (hw3/rnn.py)
PRAIRIELEARN_HELPERS = ("*.py",)    # what a student may upload beside the entry file
WILDCARDS = "*?["

SHELL_FUNCTIONS = r"""
find_python() {   # the first Python >= 3.11
    for candidate in ${BPTT_PYTHON:-} python3 python3.13 python3.12 python3.11; do
        if command -v "$candidate" >/dev/null 2>&1 &&
           "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"; return 0
        fi
    done
    return 1
}
pip_install() {   # the requirements file $1 into $PYTHON, past an externally managed Python's refusal
    "$PYTHON" -m pip install --quiet -r "$1" ||
        "$PYTHON" -m pip install --quiet --break-system-packages -r "$1"
}
"""

GRADESCOPE_SETUP = r"""#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image: it finds (or
# installs) a Python >= 3.11 and installs the grader's dependencies into it.
set -euo pipefail
SOURCE="$(cd "$(dirname "$0")" && pwd)"
""" + SHELL_FUNCTIONS + r"""
if ! PYTHON=$(find_python); then
    apt-get update && apt-get install -y python3.11 python3-pip
    PYTHON=$(find_python)
fi
pip_install "$SOURCE/requirements.txt"
echo "$PYTHON" > "$SOURCE/.python"
"""

GRADESCOPE_RUN = r"""#!/usr/bin/env bash
# Gradescope runs this for each submission: it grades /autograder/submission (hidden
# problems included) and writes /autograder/results/results.json.
set -euo pipefail
AUTOGRADER="${AUTOGRADER:-/autograder}"
SOURCE="$AUTOGRADER/source"
mkdir -p "$AUTOGRADER/results"
# In Docker the sandbox is the rlimits level and the submission runs as nobody (README:
# Security model): the problem set and the grader are not for it to read; its own files are.
chmod -R o-rwx "$SOURCE" || true
chmod -R o+rX "$AUTOGRADER/submission" || true
status=0
PYTHONPATH="$SOURCE/@SOURCE_DIR@" "$(cat "$SOURCE/.python")" -P -m grader grade "$SOURCE/@PROBLEM_SET@" \
    "$AUTOGRADER/submission" --include-hidden --format gradescope --output "$AUTOGRADER/results/results.json" \
    @OPTIONS@ || status=$?
exit $(( status == 1 ? 0 : status ))    # 1 only says that the submission lost points
"""

PRAIRIELEARN_RUN = r"""#!/usr/bin/env bash
# PrairieLearn runs this in the grading container: it grades /grade/student (hidden
# problems included) and writes /grade/results/results.json.
set -uo pipefail
GRADE="${GRADE:-/grade}"
TESTS="$GRADE/tests"
RESULTS="$GRADE/results/results.json"
mkdir -p "$GRADE/results"
""" + SHELL_FUNCTIONS + r"""
has_dependencies() { "$PYTHON" -c 'import numpy, yaml, jsonschema' 2>/dev/null; }
PYTHON=$(find_python) || PYTHON=""
if [ -n "$PYTHON" ] && ! has_dependencies; then    # needs the job's networking enabled
    pip_install "$TESTS/requirements.txt" >&2 || true
fi
if [ -z "$PYTHON" ] || ! has_dependencies; then
    echo '{"gradable": false, "format_errors": ["the grading image has no Python >= 3.11 with numpy, pyyaml'\
' and jsonschema: enable networking for the job, or use an image that has them"]}' > "$RESULTS"
    exit 0
fi
chmod -R o-rwx "$TESTS" || true                 # as in run_autograder: not for the submission,
chmod -R o+rX "$GRADE/student" || true         # which may run as nobody, to read
status=0
PYTHONPATH="$TESTS/@SOURCE_DIR@" "$PYTHON" -P -m grader grade "$TESTS/@PROBLEM_SET@" "$GRADE/student" \
    --include-hidden --format prairielearn --output "$RESULTS" @OPTIONS@ || status=$?
exit $(( status == 1 ? 0 : status ))    # 1 only says that the submission lost points
"""

QUESTION_HTML = '''<pl-question-panel>
  <p>{title}: upload <code>{entry_file}</code>, which defines <code>{functions}</code>{helpers}.</p>
  <pl-file-upload {uploads}></pl-file-upload>
</pl-question-panel>

<pl-submission-panel>
  <pl-external-grader-results></pl-external-grader-results>
  <pl-file-preview></pl-file-preview>
</pl-submission-panel>
'''


def source_files() -> dict[str, bytes]:
    """This grader's source, by path inside a bundle: the grader and reference packages'
    Python files and JSON schemas."""
    files = {}
    for package in (grader, reference):
        assert package.__file__ is not None       # a regular package, not a namespace one
        root = Path(package.__file__).parent
        for path in sorted(root.rglob("*")):
            if path.suffix in (".py", ".json") and "__pycache__" not in path.parts:
                files[f"{SOURCE_DIR}/{root.name}/{path.relative_to(root).as_posix()}"] = path.read_bytes()
    return files


def requirements() -> str:
    """The runtime dependencies, one a line (extras such as `test` left out)."""
    return "".join(f"{r}\n" for r in metadata.requires("bptt-grade") or () if "extra ==" not in r)


@dataclass(frozen=True)
class ExportOptions:
    """What an export was asked for besides the problem set."""
    output: str                                     # the zip, or the question's folder
    entry: str | None = None                        # the grade command's --entry (None: the platform's default)
    hidden_visibility: str = "after_published"      # gradescope
    helpers: tuple[str, ...] = PRAIRIELEARN_HELPERS  # prairielearn: names or patterns uploaded beside the entry file
    force: bool = False                             # prairielearn: replace a question with another title
    caps: loader.SizeCaps = loader.SizeCaps()       # the problem set's size caps, passed on to the grade command


def run_script(template: str, entry: str | None, caps: loader.SizeCaps, hidden_visibility: str | None = None) -> bytes:
    """A run script: `template` with the bundle's paths and the grade command's options
    (--max-NAME for each size cap set at export)."""
    options = ["--entry", entry] if entry else []
    if hidden_visibility:
        options += ["--hidden-visibility", hidden_visibility]
    for cap in fields(caps):
        if getattr(caps, cap.name) != cap.default:
            options += [f"--max-{cap.name}", str(getattr(caps, cap.name))]
    return (template.replace("@SOURCE_DIR@", SOURCE_DIR).replace("@PROBLEM_SET@", PROBLEM_SET_NAME)
            .replace("@OPTIONS@", shlex.join(options)).encode())


def common_files(problem_set_path: str) -> dict[str, bytes]:
    return {PROBLEM_SET_NAME: Path(problem_set_path).read_bytes(), "requirements.txt": requirements().encode(),
            **source_files()}


def gradescope_bundle(problem_set: ProblemSet, options: ExportOptions) -> dict[str, bytes]:
    return {"setup.sh": GRADESCOPE_SETUP.encode(),
            "run_autograder": run_script(GRADESCOPE_RUN, options.entry or GRADESCOPE_ENTRY, options.caps,
                                          options.hidden_visibility),
            **common_files(problem_set.path)}


def job_timeout(problem_set: ProblemSet) -> int:
    """Seconds for a whole grading job: every problem's timeout, with room to start."""
    total = sum(p.limits.timeout for p in problem_set.problems) + JOB_OVERHEAD
    return min(PRAIRIELEARN_MAX_TIMEOUT, math.ceil(total))


def question_uuid(folder: Path, title: str, force: bool) -> str:
    """The uuid of the question already in `folder` (PrairieLearn keys questions by it), else a
    new one. A UsageError when that question has another title, or no readable uuid, unless `force`."""
    info_path = folder / "info.json"
    if not info_path.exists():
        return str(uuid.uuid4())
    try:
        info = json.loads(info_path.read_bytes())
        uuid.UUID(info["uuid"])
        existing, existing_title = info["uuid"], info.get("title")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        if force:
            return str(uuid.uuid4())
        raise UsageError(f"{info_path} is not the info.json of a question with a uuid: export into another "
                         "folder, or pass --force to replace it") from None
    if existing_title != title and not force:
        raise UsageError(f"{folder} holds another question ({existing_title!r}, not {title!r}): export into "
                         "another folder, or pass --force to replace it (keeping its uuid)")
    return existing


def upload_attributes(entry_file: str, helpers: tuple[str, ...]) -> str:
    """pl-file-upload's attributes: `entry_file` required; each helper, a name or an fnmatch
    pattern, optional (PrairieLearn fills the required names first)."""
    quoted = [name for name in (entry_file, *helpers) if '"' in name or "'" in name]
    if quoted:
        raise UsageError(f"PrairieLearn file names cannot hold quotes: {quoted[0]!r}")
    patterns = tuple(h for h in helpers if any(c in h for c in WILDCARDS))
    groups = {"file-names": (entry_file,), "optional-file-names": tuple(h for h in helpers if h not in patterns),
              "optional-file-patterns": patterns}
    return " ".join(f'{name}="{attribute_list(values)}"' for name, values in groups.items() if values)


def attribute_list(values: tuple[str, ...]) -> str:
    """A PrairieLearn CSV list, for an HTML attribute: a comma inside a value escaped with a backslash."""
    return html_text(", ".join(value.replace(",", r"\,") for value in values))


def prairielearn_question(problem_set: ProblemSet, options: ExportOptions) -> dict[str, bytes]:
    entry = options.entry
    entry_file = Path(entry).name if entry and not any(c in entry for c in WILDCARDS) else "submission.py"
    helpers = (", and any files it imports (" +
               ", ".join(f"<code>{html_text(h)}</code>" for h in options.helpers) + ")") if options.helpers else ""
    info = {"uuid": question_uuid(Path(options.output), problem_set.title, options.force),
            "title": problem_set.title, "topic": "Backpropagation through time",
            "type": "v3", "singleVariant": True, "gradingMethod": "External",
            "externalGradingOptions": {"enabled": True, "image": PRAIRIELEARN_IMAGE,
                                       "entrypoint": "/grade/tests/run.sh", "timeout": job_timeout(problem_set)}}
    question = QUESTION_HTML.format(title=html_text(problem_set.title), entry_file=html_text(entry_file),
                                    helpers=helpers, functions=html_text(describe_functions(problem_set)),
                                    uploads=upload_attributes(entry_file, options.helpers))
    tests = {"run.sh": run_script(PRAIRIELEARN_RUN, entry, options.caps), **common_files(problem_set.path)}
    return {"info.json": (json.dumps(info, indent=2) + "\n").encode(), "question.html": question.encode(),
            **{f"tests/{name}": content for name, content in tests.items()}}


EXECUTABLE = {"setup.sh", "run_autograder", "tests/run.sh"}


def write_zip(files: dict[str, bytes], output: str) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, content in files.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (0o100755 if name in EXECUTABLE else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            bundle.writestr(info, content)
    write_atomically(output, buffer.getvalue(), parents=True)


def write_folder(files: dict[str, bytes], output: str) -> None:
    root = Path(output)
    if root.exists() and not root.is_dir():
        raise UsageError(f"{output} exists and is not a folder")
    for name, content in files.items():
        path = root / name
        write_atomically(path, content, parents=True)
        path.chmod(0o755 if name in EXECUTABLE else 0o644)


# platform → (the bundle's files, how they are written)
PLATFORMS = {"gradescope": (gradescope_bundle, write_zip), "prairielearn": (prairielearn_question, write_folder)}


def export(platform: str, problem_set_path: str, options: ExportOptions) -> None:
    """Write the bundle of `platform` for the problem set at `problem_set_path` to
    `options.output`, making the folders above it."""
    problem_set = loader.load(problem_set_path, options.caps)
    bundle, write = PLATFORMS[platform]
    write(bundle(problem_set, options), options.output)
