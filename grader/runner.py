"""Run a submission in a separate, limited process and call its entry point.

One process serves a submission's problems in turn; a call that hangs, crashes or kills
its process is reported on its own and a fresh process is started for the next call.
Only the child's channel messages (float64 arrays, see channel.py) come back.
"""
import os
import resource
import select
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from grader import channel
from grader.problems import Limits

CHILD = Path(__file__).with_name("child.py")
MAX_OUTPUT_BYTES = 16 << 20      # stdout and stderr, each; the report shows the start
SHOWN_OUTPUT_BYTES = 4000
MAX_RESULT_BYTES = 64 << 20      # arrays a call may send back
PASSED_ENVIRONMENT = ("PATH", "LANG", "LC_ALL", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


@dataclass(frozen=True)
class CallOutcome:
    """What one call returned: raw arrays by output name, or why there are none.

    `reason` is None on success; otherwise a sentence for the report."""
    outputs: dict[str, np.ndarray] = field(default_factory=dict)
    unusable: dict[str, str] = field(default_factory=dict)   # output name → why not numbers
    reason: str | None = None
    traceback: str = ""
    blocked_imports: tuple[str, ...] = ()


def _child_environment() -> dict[str, str]:
    env = {k: os.environ[k] for k in PASSED_ENVIRONMENT if k in os.environ}
    threads = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    return {**env, **threads, "PYTHONHASHSEED": "0"}


def _limit_resources(limits: Limits):
    def apply():
        memory = limits.memory_mb << 20
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_OUTPUT_BYTES, MAX_OUTPUT_BYTES))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


class SubmissionProcess:
    """A child process with the submission imported, ready to be called."""

    def __init__(self, submission: Path, entry_point: str, limits: Limits):
        self.limits = limits
        self.stdout = tempfile.TemporaryFile()
        self.stderr = tempfile.TemporaryFile()
        read_fd, write_fd = os.pipe()
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-u", str(CHILD), str(write_fd), str(submission), entry_point],
            stdin=subprocess.PIPE, stdout=self.stdout, stderr=self.stderr, pass_fds=(write_fd,),
            env=_child_environment(), cwd=submission.parent, start_new_session=True,
            preexec_fn=_limit_resources(limits))
        os.close(write_fd)
        self.channel_fd = read_fd
        self.alive = True

    def start(self) -> CallOutcome:
        """Wait for the import; an outcome with a reason if it failed."""
        return self._receive(time.monotonic() + self.limits.timeout, stage="import")

    def call(self, trace: dict, outputs: list[str]) -> CallOutcome:
        deadline = time.monotonic() + self.limits.timeout
        try:
            self._send(channel.encode({"trace": trace, "outputs": outputs}), deadline)
        except TimeoutError:
            return self._fail(f"timed out after {self.limits.timeout:g} s")
        except OSError:
            return self._fail(self._death_reason())
        return self._receive(deadline, stage="call")

    def _send(self, data: bytes, deadline: float) -> None:
        fd = self.process.stdin.fileno()
        os.set_blocking(fd, False)
        view = memoryview(data)
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([], [fd], [], remaining)[1]:
                raise TimeoutError
            view = view[os.write(fd, view[:1 << 16]):]

    def _receive(self, deadline: float, stage: str) -> CallOutcome:
        def read(n):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.channel_fd], [], [], remaining)[0]:
                raise TimeoutError
            return os.read(self.channel_fd, n)

        try:
            message = channel.read_message(read, MAX_RESULT_BYTES)
        except TimeoutError:
            what = "importing the submission" if stage == "import" else ""
            return self._fail(f"timed out after {self.limits.timeout:g} s" + (f" {what}" if what else ""))
        except EOFError:
            return self._fail(self._death_reason())
        except channel.ChannelError as error:
            return self._fail(f"sent an unusable result: {error}")
        return _outcome(message)

    def _fail(self, reason: str) -> CallOutcome:
        self.close()
        return CallOutcome(reason=reason)

    def _death_reason(self) -> str:
        try:
            code = self.process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            return "closed its result channel"
        if self.output_overflowed():
            return f"printed more than {MAX_OUTPUT_BYTES >> 20} MB"
        if code < 0:
            name = signal.Signals(-code).name
            hint = " (out of memory?)" if -code in (signal.SIGKILL, signal.SIGSEGV) else ""
            return f"was killed by {name}{hint}"
        return f"exited with status {code} during the call"

    def output_overflowed(self) -> bool:
        return any(os.fstat(f.fileno()).st_size >= MAX_OUTPUT_BYTES for f in (self.stdout, self.stderr))

    def captured_output(self) -> str:
        """The start of what the submission printed (stdout, then stderr)."""
        parts = []
        for f in (self.stdout, self.stderr):
            f.seek(0)
            parts.append(f.read(SHOWN_OUTPUT_BYTES).decode(errors="replace"))
        return "".join(parts)[:SHOWN_OUTPUT_BYTES]

    def close(self) -> None:
        if self.alive:
            self.alive = False
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()
            os.close(self.channel_fd)
            self.process.stdin.close()


def _outcome(message) -> CallOutcome:
    if not isinstance(message, dict):
        return CallOutcome(reason="sent an unusable result")
    kind = message.get("type")
    if kind == "result":
        outputs = {k: v for k, v in message.get("outputs", {}).items() if isinstance(v, np.ndarray)}
        unusable = {str(k): str(v)[:200] for k, v in message.get("problems", {}).items()}
        return CallOutcome(outputs=outputs, unusable=unusable)
    if kind == "ready":
        return CallOutcome()
    if kind == "bad_return":
        return CallOutcome(reason=str(message.get("message"))[:500])
    if kind == "error":
        blocked = tuple(str(name) for name in message.get("blocked_imports", []))[:10]
        where = "while importing" if message.get("stage") == "import" else "during the call"
        if message.get("kind") == "NoEntryPoint":
            return CallOutcome(reason=str(message.get("message")))
        text = f"raised {message.get('kind')} {where}: {message.get('message')}"[:1000]
        if blocked:
            text += f" (tried to import {', '.join(blocked)}, which submissions may not)"
        return CallOutcome(reason=text, traceback=str(message.get("traceback", ""))[:4000],
                           blocked_imports=blocked)
    return CallOutcome(reason="sent an unusable result")
