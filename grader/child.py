"""The submission's side of the sandbox, run as a script in its own process:

    python -I child.py CHANNEL_FD SUBMISSION ENTRY_POINT

It imports the submission, then serves calls: it reads a request (a forward trace and the
names of the outputs to return) on stdin and writes the entry point's returned values on
CHANNEL_FD as float64 arrays (see channel.py). It knows nothing of expected values, and the
grader's own packages are made unimportable before the submission runs.
"""
import importlib.abc
import importlib.util
import os
import sys
import traceback
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import channel  # noqa: E402  (a sibling file, loaded before the grader is blocked)
import numpy as np  # noqa: E402

del sys.path[0]
BLOCKED_PACKAGES = ("grader", "reference")
MAX_TEXT = 4000


class BlockGraderImports(importlib.abc.MetaPathFinder):
    """Refuse `import grader` / `import reference` and remember that it was tried."""
    attempts: list[str] = []

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED_PACKAGES:
            self.attempts.append(name)
            raise ImportError(f"importing {name!r} is not allowed in a submission")
        return None


def student_traceback(error: BaseException, submission_dir: str) -> str:
    """The traceback cut down to frames in the submission's own files."""
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if os.path.abspath(f.filename).startswith(submission_dir + os.sep)]
    lines = traceback.format_list(frames) + traceback.format_exception_only(type(error), error)
    return "".join(lines)[-MAX_TEXT:]


def describe(error: BaseException, submission_dir: str) -> dict:
    return {"kind": type(error).__name__, "message": str(error)[:MAX_TEXT],
            "traceback": student_traceback(error, submission_dir),
            "blocked_imports": BlockGraderImports.attempts[:10]}


def as_float_array(value):
    """The returned value as float64, or a short reason why it is not numbers."""
    if value is None:
        return None, "is None"
    try:
        array = np.array(value, dtype=np.float64)
    except Exception as error:  # the student's object may raise anything
        return None, f"is a {type(value).__name__}, not numbers"
    return array, None


def read_trace(request: dict) -> types.MappingProxyType:
    trace = {}
    for key, value in request["trace"].items():
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
        trace[key] = value
    return types.MappingProxyType(trace)


def serve(fd: int, submission: str, entry_point: str) -> None:
    submission_dir = os.path.dirname(os.path.abspath(submission))
    sys.meta_path.insert(0, BlockGraderImports())
    sys.path.insert(0, submission_dir)
    try:
        spec = importlib.util.spec_from_file_location("submission", submission)
        module = importlib.util.module_from_spec(spec)
        sys.modules["submission"] = module
        spec.loader.exec_module(module)
        function = getattr(module, entry_point, None)
        if not callable(function):
            channel.write_message(fd, {"type": "error", "stage": "import", "kind": "NoEntryPoint",
                                       "message": f"no function {entry_point!r} defined",
                                       "traceback": "", "blocked_imports": []})
            return
    except BaseException as error:  # SyntaxError, SystemExit, KeyboardInterrupt: all reported
        channel.write_message(fd, {"type": "error", "stage": "import", **describe(error, submission_dir)})
        return
    channel.write_message(fd, {"type": "ready"})
    stdin = sys.stdin.buffer
    while True:
        try:
            request = channel.read_message(stdin.read, max_bytes=1 << 31)
        except EOFError:
            return
        try:
            returned = function(read_trace(request))
        except BaseException as error:
            channel.write_message(fd, {"type": "error", "stage": "call", **describe(error, submission_dir)})
            continue
        channel.write_message(fd, outputs_message(returned, request["outputs"]))


def outputs_message(returned, names) -> dict:
    if not hasattr(returned, "keys") or not hasattr(returned, "__getitem__"):
        return {"type": "bad_return", "message": f"returned {type(returned).__name__}, not a mapping"}
    outputs, problems = {}, {}
    for name in names:
        try:
            present = name in returned
            value = returned[name] if present else None
        except Exception as error:
            present, value = False, None
            problems[name] = f"could not be read ({type(error).__name__})"
            continue
        if not present:
            problems[name] = "is missing"
            continue
        array, reason = as_float_array(value)
        if reason:
            problems[name] = reason
        else:
            outputs[name] = array
    return {"type": "result", "outputs": outputs, "problems": problems}


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2], sys.argv[3])
