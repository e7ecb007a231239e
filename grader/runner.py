"""Run a submission in its sandbox (sandbox.py, child.py) and call its entry point.

One sandbox serves a submission's problems in turn; a call that hangs, crashes or kills
its process is reported on its own and a fresh sandbox is started for the next call.
Only channel messages come back (a JSON header and float64 arrays, see channel.py), and
every field of them is checked here: nothing the child says is trusted beyond its numbers.

A sandbox's processes begin in one of two ways (STARTS), with the same confinement: forked
by the grader process's zygote (zygote.py; the default, no new interpreter per sandbox), or
as a fresh interpreter running child.py under the level's wrapper.
"""
import contextlib
import fcntl
import os
import re
import select
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from grader import channel
from grader.hints import hint
from grader.problem_set import Limits
from grader.results import CallOutcome
from grader.sandbox import MAX_OUTPUT_BYTES, Sandbox, child_environment, cpu_seconds_per_call
from grader.text_safety import valid_unicode
from grader.zygote_client import Zygote

SHOWN_OUTPUT_BYTES = 4000        # of stdout and of stderr, per call, in the report
MAX_RESULT_BYTES = 64 << 20      # arrays a call may send back
START_SECONDS = 10.0             # for the sandbox to start, before the import's own limit
STATUS_SECONDS = 1.0             # at least, for the supervisor to say how the worker ended
CLOSE_SECONDS = 2.0              # for the supervisor to kill everything and exit
WHERE = {"start": "while starting", "import": "while importing", "call": "during the call"}
EXPECTED = {"start": {"started"}, "import": {"ready", "no_entry_point", "error"},
            "call": {"result", "no_entry_point", "bad_return", "error"}}
OUTPUT_OVERFLOW = f"printed more than {MAX_OUTPUT_BYTES >> 20} MB"
MAX_PRINTED_BYTES = 64 << 20     # stdout and stderr together, over a submission's every call
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
OUT_OF_MEMORY_MARGIN_MB = 64       # a worker that ends abnormally this close to its memory limit ran out of it
SIGNAL_HINTS: dict[int, str] = {signal.SIGKILL: " (out of memory?)", signal.SIGSEGV: " (a segmentation fault)",
                signal.SIGBUS: " (a bus error)"}


class SubmissionProcess:
    """A sandboxed child with the submission imported, ready to be called."""

    def __init__(self, submission: Path, entry_points: str, limits: Limits, sandbox: Sandbox, calls: int = 1,
                 start: str = "zygote", printed: int = 0, notebook_cells: str = "definitions"):
        """`submission` is resolved; `entry_points` the functions (comma-separated) it must
        define to be served at all; `calls` bounds the calls this process will serve;
        `start` is how the sandbox's processes begin, a key of STARTS; `printed` the bytes
        the submission printed in earlier processes (MAX_PRINTED_BYTES counts them all);
        `notebook_cells` which cells of a notebook run (grader/notebooks.py)."""
        self.limits, self.printed = limits, printed
        # open for the process's lifetime, closed by close()
        self.stdout, self.stderr = tempfile.TemporaryFile(), tempfile.TemporaryFile()  # noqa: SIM115
        for capture in (self.stdout, self.stderr):    # emptied after each outcome: RLIMIT_FSIZE is then per call
            fcntl.fcntl(capture.fileno(), fcntl.F_SETFL, os.O_APPEND)
        self._carried_output = ""    # printed but not yet in an outcome
        read_fd, write_fd = os.pipe()
        self.control, child_control = socket.socketpair()
        settings = {**sandbox.settings(submission), "submission": str(submission), "entry_points": entry_points,
                    "rlimits": sandbox.resource_limits(limits, calls),
                    "cpu_seconds_per_call": cpu_seconds_per_call(limits), "notebook_cells": notebook_cells}
        hidden_fd = sandbox.hidden_file()
        try:
            self.process: Forked | FreshInterpreter = STARTS[start](sandbox, settings, submission.parent,
                                         (self.stdout.fileno(), self.stderr.fileno(), write_fd, child_control.fileno(),
                                          hidden_fd))
        finally:
            os.close(write_fd)
            os.close(hidden_fd)
            child_control.close()
        self.channel_fd = read_fd
        self.alive = True

    def start(self) -> CallOutcome:
        """Wait for the sandbox, then for the import; an outcome with a reason if either failed."""
        started = self._receive(time.monotonic() + START_SECONDS, "start")
        if started.reason:
            return started
        ready = self._receive(time.monotonic() + self.limits.timeout, "import")
        ready = replace(ready, output=started.output + ready.output)    # the import may print before we look
        if not ready.reason:
            self._carried_output = ready.output       # shown with the first call
        return ready

    def call(self, arguments: Callable[[], dict], outputs: dict[str, tuple[int, ...]], how: dict) -> CallOutcome:
        """Call the submission's functions on the arguments `arguments()` makes as `how` says
        (grader.contracts.Call.how), asking for `outputs` (name → shape). The arguments are
        made as the request is sent and let go before the submission's result comes: a large
        problem's inputs are not held while it runs."""
        return self._request(lambda: {"arguments": arguments(),
                                      "outputs": {name: list(shape) for name, shape in outputs.items()}, "call": how})

    def second_call(self) -> CallOutcome:
        """Call the backward of the last call again on the cache it changed (its outcome has
        `cache_changed`): `second_call` says what that did, if not what the first call did
        (grader/submission_calls.py)."""
        return self._request(lambda: {"second_call": True})

    def _request(self, request: Callable[[], dict]) -> CallOutcome:
        """Send the request `request()` makes, then wait for its outcome."""
        deadline = time.monotonic() + self.limits.timeout
        try:
            self._send(channel.encoded_parts(request()), deadline)
        except TimeoutError:
            return self._fail(self._timed_out("call"))
        except OSError:
            return self._fail(self._ending("call", deadline))
        return self._receive(deadline, "call")

    def _send(self, parts: list, deadline: float) -> None:
        """Write a message's parts (channel.encoded_parts) to the requests pipe in turn."""
        fd = self.process.requests
        os.set_blocking(fd, False)
        for part in parts:
            view = memoryview(part)
            while view:
                _wait_until_ready(fd, deadline, write=True)
                view = view[os.write(fd, view[:1 << 16]):]

    def _receive(self, deadline: float, stage: str) -> CallOutcome:
        def read(n):
            _wait_until_ready(self.channel_fd, deadline)
            return os.read(self.channel_fd, n)

        try:
            message = channel.read_message(read, MAX_RESULT_BYTES)
        except TimeoutError:
            return self._fail(self._timed_out(stage), fault=stage == "start")
        except EOFError:
            if stage == "start":       # before any submission code ran: the sandbox itself failed
                return self._fail(f"could not be started in its sandbox ({self._ending(stage, deadline)}; "
                                  f"it said: {self._new_output().strip()[-500:] or 'nothing'})", fault=True)
            return self._fail(self._ending(stage, deadline))
        except channel.ChannelError as error:
            return self._fail(f"sent an unusable result: {error}")
        if overflow := self.output_overflow():
            return self._fail(overflow)
        outcome = self._outcome(message, stage)
        if outcome is None:
            return self._fail(f"sent an unusable result {WHERE[stage]}")
        return replace(outcome, output=self._new_output())

    def _outcome(self, message, stage: str) -> CallOutcome | None:
        """The outcome a well-formed message of `stage` describes; None for anything else."""
        sent = message.get("type") if isinstance(message, dict) else None
        if sent not in EXPECTED[stage]:
            return None
        blocked = message.get("blocked_imports", [])
        if not (isinstance(blocked, list) and all(isinstance(name, str) for name in blocked)):
            return None
        outcome = CallOutcome(blocked_imports=tuple(_text(name, 100) for name in blocked[:10]))
        if sent == "result":
            outputs, problems = message.get("outputs"), message.get("problems")
            if not (isinstance(outputs, dict) and isinstance(problems, dict)):
                return None
            said = message.get("second_call")
            outcome = replace(outcome, outputs={k: v for k, v in outputs.items() if isinstance(v, np.ndarray)},
                              unusable={k: _text(v, 200) for k, v in problems.items()},
                              cache_changed=message.get("cache_changed") is True,
                              second_call=None if said is None else _text(said, 300))
        elif sent == "no_entry_point":
            name = message.get("name")
            if not (isinstance(name, str) and IDENTIFIER.fullmatch(name)):
                return None
            outcome = replace(outcome, reason=f"defines no function {name!r}")
        elif sent == "bad_return":
            outcome = replace(outcome, reason=_text(message.get("message"), 500))
        elif sent == "error":
            outcome = replace(outcome, reason=self._error_reason(message, stage),
                              traceback=_text(message.get("traceback", ""), 4000))
        if outcome.blocked_imports:
            flag = f"tried to import {', '.join(outcome.blocked_imports)}, which submissions may not"
            outcome = replace(outcome, reason=f"{outcome.reason} ({flag})" if outcome.reason else flag)
        return outcome

    def _error_reason(self, message: dict, stage: str) -> str:
        exception, text = _text(message.get("kind"), 100), _text(message.get("message"), 1000)
        if exception == "SystemExit":
            return f"exited with sys.exit({text}) {WHERE[stage]}"
        if exception == "MemoryError":
            return f"ran out of memory {WHERE[stage]} (the limit is {self.limits.memory_mb} MB)"
        told = hint(exception, text)
        return f"raised {exception} {WHERE[stage]}: {text}" + (f" (hint: {told})" if told else "")

    def _timed_out(self, stage: str) -> str:
        if stage == "start":
            return f"could not be started within {START_SECONDS:g} s"
        return f"timed out after {self.limits.timeout:g} s" + (" importing the submission" if stage == "import" else "")

    def _ending(self, stage: str, deadline: float) -> str:
        """Why the channel closed: how the supervisor says the worker ended (it may take
        until the stage's deadline, or STATUS_SECONDS, to say)."""
        if overflow := self.output_overflow():
            return overflow
        status, peak_mb = self._worker_status(max(deadline, time.monotonic() + STATUS_SECONDS))
        if status is None:
            return f"closed its result channel {WHERE[stage]}"
        if status != 0 and peak_mb >= self.limits.memory_mb - OUT_OF_MEMORY_MARGIN_MB:
            return f"ran out of memory {WHERE[stage]} (the limit is {self.limits.memory_mb} MB)"
        if status >= 0:
            return f"exited with status {status} {WHERE[stage]}"
        number = -status
        if number == signal.SIGXCPU:
            return f"used more than {cpu_seconds_per_call(self.limits)} s of CPU time {WHERE[stage]}"
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        return f"was killed by {name}{SIGNAL_HINTS.get(number, '')} {WHERE[stage]}"

    def _worker_status(self, deadline: float) -> tuple[int | None, int]:
        """The worker's exit status (negative: the signal that killed it; None when the
        supervisor did not say) and its peak address space in MB."""
        def read(n):
            _wait_until_ready(self.control.fileno(), deadline)
            return self.control.recv(n)

        try:
            message = channel.read_message(read, max_bytes=0)
        except (TimeoutError, EOFError, OSError, channel.ChannelError):
            return None, 0
        status, peak = (message.get("status"), message.get("peak_mb")) if isinstance(message, dict) else (None, 0)
        return (status if type(status) is int else None), (peak if type(peak) is int else 0)

    def _fail(self, reason: str, fault: bool = False) -> CallOutcome:
        self.close()
        return CallOutcome(reason=reason, output=self._new_output(), fault=fault)

    def output_overflow(self) -> str | None:
        """Why what the submission printed is over a limit (this call's, or the whole
        submission's), or None."""
        sizes = [os.fstat(f.fileno()).st_size for f in (self.stdout, self.stderr)]
        if max(sizes) >= MAX_OUTPUT_BYTES:
            return OUTPUT_OVERFLOW
        if self.printed + sum(sizes) > MAX_PRINTED_BYTES:
            return f"printed more than {MAX_PRINTED_BYTES >> 20} MB in all"
        return None

    def _new_output(self) -> str:
        """What the submission printed since the last outcome (stdout, then stderr), each
        cut to SHOWN_OUTPUT_BYTES; the capture files are emptied (the child appends)."""
        parts = [self._carried_output]
        self._carried_output = ""
        for f in () if self.stdout.closed else (self.stdout, self.stderr):
            end = os.fstat(f.fileno()).st_size
            parts.append(os.pread(f.fileno(), min(end, SHOWN_OUTPUT_BYTES), 0).decode(errors="replace"))
            if end > SHOWN_OUTPUT_BYTES:
                parts.append(f"\n[… {end - SHOWN_OUTPUT_BYTES} more bytes]\n")
            os.ftruncate(f.fileno(), 0)
            self.printed += end
        return "".join(parts)

    def close(self) -> None:
        """Stop the sandbox; returns once the child and all its descendants are gone."""
        if not self.alive:
            return
        self.alive = False
        self.control.close()                  # the supervisor kills everything, then exits
        self.process.wait(CLOSE_SECONDS)
        with contextlib.suppress(ProcessLookupError, PermissionError):   # whatever is left in its group
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        os.close(self.channel_fd)
        self.process.release()
        self._carried_output = self._new_output()     # what was printed last, for _fail
        self.stdout.close()
        self.stderr.close()


def _text(value, limit: int) -> str:
    """A text field of the child's message: at most `limit` characters of valid Unicode, or
    for anything but a string, its JSON type (never its str(), which a deep nesting breaks)."""
    return valid_unicode(value[:limit]) if isinstance(value, str) else f"({type(value).__name__})"


def _wait_until_ready(fd: int, deadline: float, write: bool = False) -> None:
    """Until `fd` can be read (or written); TimeoutError at the deadline."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError
    readable, writable, _ = select.select([] if write else [fd], [fd] if write else [], [], remaining)
    if not (readable or writable):
        raise TimeoutError


class FreshInterpreter:
    """A sandbox started as a new interpreter: the level's wrapper + python child.py."""

    def __init__(self, sandbox: Sandbox, settings: dict, cwd: Path, fds: tuple[int, int, int, int, int]):
        """`fds`: the sandbox's stdout, stderr, result channel (write end), control socket and
        hidden paths' file (sandbox.Sandbox.hidden_file)."""
        stdout, stderr, channel_fd, control_fd, hidden_fd = fds
        settings = {**settings, "channel_fd": channel_fd, "control_fd": control_fd, "hidden_fd": hidden_fd}
        self.popen = subprocess.Popen(
            sandbox.command(settings), stdin=subprocess.PIPE, stdout=stdout, stderr=stderr,
            pass_fds=(channel_fd, control_fd, hidden_fd), env=child_environment(), cwd=cwd, start_new_session=True)
        assert self.popen.stdin is not None      # stdin=PIPE
        self.stdin = self.popen.stdin
        self.pid, self.requests = self.popen.pid, self.stdin.fileno()

    def wait(self, timeout: float | None = None) -> bool:
        """Whether every process of the sandbox is gone (waiting at most `timeout` s)."""
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def release(self) -> None:
        self.stdin.close()


class Forked:
    """A sandbox forked by the zygote (zygote.py): the same processes, confinement and
    limits as FreshInterpreter's, without a new interpreter. The zygote's `starter` is
    the leader of the sandbox's session; `done` reads end-of-file once it has exited,
    after the supervisor and, with it, every process it had to kill."""

    def __init__(self, sandbox: Sandbox, settings: dict, cwd: Path, fds: tuple[int, int, int, int, int]):
        requests, self.requests = os.pipe()
        self.done, done = os.pipe()
        request = {"settings": settings, "namespaces": list(sandbox.level.namespaces), "cwd": str(cwd)}
        try:
            try:
                self.pid = Zygote.shared().spawn(request, (requests, *fds, done))
            except OSError:                   # a zygote that died: once more, with a new one
                self.pid = Zygote.shared().spawn(request, (requests, *fds, done))
        except BaseException:
            os.close(self.requests)
            os.close(self.done)
            raise
        finally:
            os.close(requests)
            os.close(done)

    def wait(self, timeout: float | None = None) -> bool:
        """Whether every process of the sandbox is gone (waiting at most `timeout` s)."""
        return bool(select.select([self.done], [], [], timeout)[0])     # nobody writes: readable = closed

    def release(self) -> None:
        os.close(self.requests)
        os.close(self.done)


STARTS: dict[str, type[Forked] | type[FreshInterpreter]] = {"zygote": Forked, "fresh": FreshInterpreter}
