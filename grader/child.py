"""The submission's side of the sandbox, run as a script (see sandbox.Sandbox.command):

    python -I -B -u child.py SETTINGS_JSON

Two processes. The supervisor never runs submission code: it builds the private
filesystem view (namespaces level), forks the worker, waits for it, reports on the control
socket how it ended, and kills every process below itself when the worker ends or the
grader closes the control socket. It is PID 1 of the sandbox's PID namespace (so its exit
kills everything in it) or, at the rlimits level, a subreaper (so orphans come back to it).

The worker locks the view, drops what it may not keep, applies the resource limits,
imports the submission and serves calls: a request (the arguments, how to call which of
the submission's functions — see submission_calls.py — and the outputs to return, with
their shapes) comes on stdin; the returned values go back on the channel as float64
arrays (channel.py), with `cache_changed` (the backward changed its cache). A request
{"second_call": true} calls that backward again on the cache it changed
(submission_calls.second_call). Objects the submission keeps between its functions (a cache) stay
here. It never sees an expected value, and the grader's packages are unimportable before
the submission runs.

SETTINGS_JSON: channel_fd, control_fd, hidden_fd (a file of the paths to hide, read only by
filesystem_view.build_from's own process), submission (resolved), entry_points (the
functions, comma-separated, the submission must define to be served at all; may be empty),
view (null or filesystem_view.build_from's other keyword arguments), user (null or a uid to switch to),
rlimits ({name: value}), cpu_seconds_per_call, probe (true: set up, then exit).
"""
import contextlib
import importlib.abc
import importlib.util
import json
import math
import os
import pathlib
import resource
import signal
import socket
import sys
import threading
import time
import traceback
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import channel  # noqa: E402  (siblings, loaded before the grader's folder is hidden)
import filesystem_view  # noqa: E402
import notebooks  # noqa: E402
import numpy as np  # noqa: E402
import submission_calls  # noqa: E402
from process_control import (  # noqa: E402
    PR_SET_CHILD_SUBREAPER,
    PR_SET_DUMPABLE,
    PR_SET_NO_NEW_PRIVS,
    PR_SET_PDEATHSIG,
    prctl,
)

del sys.path[0]
BLOCKED_PACKAGES = ("grader", "reference")
MAX_TEXT = 4000
MEMORY_SAMPLE_SECONDS = 0.01
IPC_SHARED_MEMORY_BYTES = 64 << 20     # as the private /tmp (filesystem_view.TMP_SIZE)
IPC_LIMITS = {"kernel/shmmax": IPC_SHARED_MEMORY_BYTES,
              "kernel/shmall": IPC_SHARED_MEMORY_BYTES // os.sysconf("SC_PAGE_SIZE"),
              "kernel/shmmni": 16, "kernel/shm_rmid_forced": 1,
              "kernel/msgmni": 16, "kernel/msgmnb": 1 << 16, "kernel/msgmax": 8192,
              "fs/mqueue/queues_max": 16, "fs/mqueue/msg_max": 16, "fs/mqueue/msgsize_max": 8192}


# The supervisor ------------------------------------------------------------------------

def main(settings: dict) -> None:
    if settings["view"]:
        bound_ipc()
        filesystem_view.build_from(settings["hidden_fd"], **settings["view"])
    else:
        os.close(settings["hidden_fd"])
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    worker = os.fork()
    if worker == 0:
        run_worker(settings)
    supervise(worker, settings)


def bound_ipc() -> None:
    """Cap System V and POSIX IPC in the sandbox's own IPC namespace (IPC_LIMITS), so shared
    memory and message queues cannot hold memory beyond the sandbox's limits."""
    for name, value in IPC_LIMITS.items():
        with open(f"/proc/sys/{name}", "w") as setting:
            setting.write(str(value))


def supervise(worker: int, settings: dict) -> None:
    """Wait for the worker, report how it ended, kill whatever it left, exit."""
    control = None
    if not settings.get("probe"):
        os.close(settings["channel_fd"])          # only the worker may write results
        os.close(0)
        control = socket.socket(fileno=settings["control_fd"])
        prctl(PR_SET_DUMPABLE, 0)                 # the worker cannot open our /proc files
        threading.Thread(target=kill_when_closed, args=(control, worker), daemon=True).start()
    peak = [0]
    threading.Thread(target=watch_memory, args=(worker, peak), daemon=True).start()
    _, status = os.waitpid(worker, 0)
    code = os.waitstatus_to_exitcode(status)     # negative: killed by that signal
    if control is not None:
        with contextlib.suppress(OSError):        # the grader has gone
            control.sendall(channel.encode({"type": "ended", "status": code, "peak_mb": peak[0] >> 10}))
    kill_descendants()
    os._exit(0 if code == 0 else 1)


def watch_memory(worker: int, peak: list[int]) -> None:
    """Keep in peak[0] the worker's peak address space (VmPeak, KB), read every
    MEMORY_SAMPLE_SECONDS until it is gone: how the grader tells a death of the memory limit
    (a C library's abort or segfault on a failed allocation) from any other."""
    try:
        with open(f"/proc/{worker}/status", "rb") as status:
            while True:
                for line in status.read().splitlines():
                    if line.startswith(b"VmPeak:"):
                        peak[0] = max(peak[0], int(line.split()[1]))
                status.seek(0)
                time.sleep(MEMORY_SAMPLE_SECONDS)
    except (OSError, ValueError):
        return                                    # the worker has gone (or no /proc)


def kill_when_closed(control: socket.socket, worker: int) -> None:
    """The grader closing the control socket ends the worker (and then everything)."""
    with contextlib.suppress(OSError):
        control.recv(1)
    with contextlib.suppress(ProcessLookupError):     # it has ended meanwhile
        os.kill(worker, signal.SIGKILL)


def kill_descendants() -> None:
    """SIGKILL every process below this one until none is left: orphans, even ones that
    called setsid(), are reparented to this subreaper (or PID 1) and found next round."""
    while pids := children():
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid in pids:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def children() -> list[int]:
    """This process's children (Linux; elsewhere none are found and the grader's killpg
    of the child's process group is what is left)."""
    tasks = "/proc/self/task"
    try:
        return [int(pid) for task in os.listdir(tasks)
                for pid in pathlib.Path(tasks, task, "children").read_text().split()]
    except OSError:
        return []


# The worker ----------------------------------------------------------------------------

def run_worker(settings: dict) -> None:
    """Never returns: exits when the grader closes its requests, or on a failure of ours."""
    code = 1
    try:
        requests = confine(settings)
        if not settings.get("probe"):
            serve(settings, requests)
        code = 0
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(code)


def confine(settings: dict) -> int:
    """Everything the submission must not be able to undo; returns the requests' fd."""
    if not settings.get("probe"):
        os.close(settings["control_fd"])
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if settings["view"]:
        filesystem_view.lock()
    requests, null = os.dup(0), os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)                              # input() gets EOF; the next request stays ours
    os.close(null)
    if settings["user"] is not None:
        os.setgroups([])
        os.setgid(settings["user"])
        os.setuid(settings["user"])
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    for name, value in settings.get("rlimits", {}).items():
        if hasattr(resource, name):           # every one exists on Linux
            set_limit(getattr(resource, name), value, value)
    return requests


def set_limit(which: int, soft: int, hard: int) -> None:
    """Lower a limit, never above its current hard limit (an unprivileged process cannot raise it)."""
    current = resource.getrlimit(which)[1]
    if current != resource.RLIM_INFINITY:
        soft, hard = min(soft, current), min(hard, current)
    resource.setrlimit(which, (min(soft, hard), hard))


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
    frames = [f for f in traceback.extract_tb(error.__traceback__)      # not importlib's <frozen …> ones
              if not f.filename.startswith("<") and os.path.abspath(f.filename).startswith(submission_dir + os.sep)]
    lines = traceback.format_list(frames) + traceback.format_exception_only(type(error), error)
    return "".join(lines)[-MAX_TEXT:]


def flagged(message: dict) -> dict:
    """Every message names the grader imports tried so far."""
    return {**message, "blocked_imports": BlockGraderImports.attempts[:10]}


def describe(error: BaseException, stage: str, submission_dir: str) -> dict:
    return flagged({"type": "error", "stage": stage, "kind": type(error).__name__,
                    "message": str(error)[:MAX_TEXT], "traceback": student_traceback(error, submission_dir)})


def as_float_array(value, shape: tuple[int, ...]):
    """The returned value as float64, or a short reason why it is not numbers. Never
    more values than `shape` holds (at least one) travel back."""
    if value is None:
        return None, "is None"
    try:
        array = np.asarray(value, dtype=np.float64)
    except Exception:  # the student's object may raise anything
        return None, f"is a {type(value).__name__}, not numbers"
    if array.size > max(1, math.prod(shape)):
        return None, f"has {array.size} values, expected shape {shape}"
    return array, None


def missing_function(module, names) -> dict | None:
    """The message for the first of `names` the submission does not define, if any."""
    for name in names:
        if not callable(getattr(module, name, None)):
            return flagged({"type": "no_entry_point", "name": name})
    return None


def imported(submission: str, notebook_cells: str):
    """The submission as module `submission`: a .py file imported, or a notebook's code
    (grader/notebooks.py, `notebook_cells` a mode of notebooks.MODES) run as one."""
    if submission.endswith(".ipynb"):
        source, _ = notebooks.python_source(submission, notebook_cells)
        module = types.ModuleType("submission")
        module.__file__ = submission
        sys.modules["submission"] = module
        exec(compile(source, submission, "exec"), module.__dict__)
        return module
    spec = importlib.util.spec_from_file_location("submission", submission)
    if spec is None or spec.loader is None:
        raise ImportError(f"{os.path.basename(submission)} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules["submission"] = module
    spec.loader.exec_module(module)
    return module


def serve(settings: dict, requests: int) -> None:
    fd, submission = settings["channel_fd"], settings["submission"]
    submission_dir = os.path.dirname(submission)
    channel.write_message(fd, {"type": "started"})
    sys.meta_path.insert(0, BlockGraderImports())
    sys.path.insert(0, submission_dir)
    try:
        module = imported(submission, settings.get("notebook_cells", "definitions"))
    except BaseException as error:  # SyntaxError, SystemExit, KeyboardInterrupt: all reported
        channel.write_message(fd, describe(error, "import", submission_dir))
        return
    missing = missing_function(module, [name for name in settings["entry_points"].split(",") if name])
    channel.write_message(fd, missing or flagged({"type": "ready"}))
    read = lambda n: os.read(requests, n)  # noqa: E731
    cpu_per_call = settings["cpu_seconds_per_call"]
    while True:
        try:
            request = channel.read_message(read, max_bytes=1 << 31)
        except EOFError:
            return
        used = math.ceil(sum(resource.getrusage(resource.RUSAGE_SELF)[:2]))
        set_limit(resource.RLIMIT_CPU, used + cpu_per_call, resource.getrlimit(resource.RLIMIT_CPU)[1])
        if request.get("second_call"):
            try:
                said = submission_calls.second_call()
            except BaseException as error:
                channel.write_message(fd, describe(error, "call", submission_dir))
                continue
            channel.write_message(fd, flagged({"type": "result", "outputs": {}, "problems": {}, "second_call": said}))
            continue
        how = request["call"]
        missing = missing_function(module, how["functions"])
        if missing:
            channel.write_message(fd, missing)
            continue
        functions = [getattr(module, name) for name in how["functions"]]
        submission_calls.CHANGED_CACHE.clear()
        try:
            returned = submission_calls.STYLES[how["style"]](functions, request["arguments"], how)
        except submission_calls.ContractViolation as violation:
            channel.write_message(fd, flagged({"type": "bad_return", "message": str(violation)}))
            continue
        except BaseException as error:
            channel.write_message(fd, describe(error, "call", submission_dir))
            continue
        upstream = how.get("upstream")
        message = outputs_message(returned, request["outputs"], (upstream, request["arguments"].get(upstream)))
        channel.write_message(fd, flagged({**message, "cache_changed": bool(submission_calls.CHANGED_CACHE)}))


def is_the_upstream(value, upstream) -> bool:
    """Whether `value` is the upstream argument (name, array) itself, returned (da0 = da)."""
    name, array = upstream
    return name is not None and isinstance(value, np.ndarray) and isinstance(array, np.ndarray) \
        and value.shape == array.shape and np.array_equal(value, array)


def outputs_message(returned, shapes: dict[str, list[int]], upstream=(None, None)) -> dict:
    """The returned outputs as arrays, or why each is not numbers in `shapes`; `upstream`
    (name, array) is the argument holding the upstream gradient, where the call has one."""
    if not hasattr(returned, "keys") or not hasattr(returned, "__getitem__"):
        return {"type": "bad_return", "message": f"returned {type(returned).__name__}, not a mapping"}
    outputs, problems = {}, {}
    for name, shape in shapes.items():
        try:
            present = name in returned
            value = returned[name] if present else None
        except Exception as error:
            problems[name] = f"could not be read ({type(error).__name__})"
            continue
        if not present:
            problems[name] = "is missing"
            continue
        if isinstance(value, np.ndarray) and list(value.shape) != list(shape) and is_the_upstream(value, upstream):
            problems[name] = f"has the shape of {upstream[0]}: the whole upstream array was returned"
            continue
        array, reason = as_float_array(value, tuple(shape))
        if reason:
            problems[name] = reason
        else:
            outputs[name] = array
    return {"type": "result", "outputs": outputs, "problems": problems}


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
