"""The grader's side of its zygote (zygote.py): starting it, reading the verdicts of the
trial runs it makes as it starts, and asking it to fork a sandbox.

Importing this module imports no numpy, so a command can start the zygote before it loads
anything else: the zygote's start-up (a fresh interpreter importing numpy) and its trial
runs then overlap the grader's own imports and problem-set loading.
"""
import json
import os
import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path

from grader import sandbox
from grader.errors import SandboxUnavailable

ZYGOTE = Path(__file__).with_name("zygote.py")
LENGTH = struct.Struct("<Q")      # zygote.LENGTH: a request's size, sent with its file descriptors
TITLE_ROOM = 4096                 # bytes of command line for the titles zygote.retitle writes
ANSWER_SECONDS = 10.0             # for the zygote to answer a request


class Zygote:
    """The grader process's zygote: a clean interpreter with numpy and the child's modules
    imported, started on first use (again if it dies, and in each forked batch worker),
    that forks one sandbox per request.

    The first zygote of a grader process (and of the batch workers it forks afterwards) makes
    a trial run of every level with a wrapper as it starts (sandbox.trial): the verdicts that
    `sandbox.unavailable` gives for sandboxes the zygote forks. Nothing is cached on disk."""
    _running: dict[int, "Zygote"] = {}       # grader pid → its zygote
    _starting = threading.Lock()
    trials: dict[str, tuple[int | None, str]] | None = None   # level → the trial's (status, stderr), once read

    def __init__(self, run_trials: bool):
        self.socket, theirs = socket.socketpair()
        self.lock = threading.Lock()
        requests, hidden_fds = {}, []
        for name, level in sandbox.LEVELS.items():
            if run_trials and level.wrapper:
                confinement, settings = sandbox.trial(level)
                hidden_fds.append(confinement.hidden_file())
                requests[name] = {"settings": {**settings, "hidden_fd": hidden_fds[-1]},
                                  "namespaces": list(level.namespaces), "cwd": "/", "seconds": sandbox.PROBE_SECONDS}
        try:
            self.popen = subprocess.Popen(
                [sys.executable, "-I", "-B", "-u", str(ZYGOTE), str(theirs.fileno()), str(os.getpid()),
                 json.dumps(requests), "-" * TITLE_ROOM], pass_fds=(theirs.fileno(), *hidden_fds),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                env=sandbox.child_environment(), cwd="/", start_new_session=True)
        finally:
            theirs.close()
            for fd in hidden_fds:
                os.close(fd)
        self.greeting: dict | None = None      # the zygote's first message: its trials' outcomes

    @classmethod
    def shared(cls) -> "Zygote":
        with cls._starting:
            zygote = cls._running.get(os.getpid())
            if zygote is None or zygote.popen.poll() is not None:
                zygote = cls._running[os.getpid()] = cls(run_trials=cls.trials is None)
            return zygote

    @classmethod
    def trial_run(cls, level: str) -> tuple[int | None, str]:
        """The zygote's trial run of `level` (a key of sandbox.LEVELS with a wrapper): its exit
        status (None: it did not end within sandbox.PROBE_SECONDS) and what it printed. A zygote
        that dies before it answers is replaced once; then SandboxUnavailable (a zygote that
        cannot run says nothing of the level: `auto` must not fall back for it)."""
        if cls.trials is None:
            try:
                try:
                    cls.trials = cls.shared().trial_outcomes()
                except OSError:
                    cls.trials = cls.shared().trial_outcomes()
            except OSError as error:
                raise SandboxUnavailable(f"the isolation trial run could not be made: {error}") from error
        return cls.trials[level]

    def trial_outcomes(self) -> dict[str, tuple[int | None, str]]:
        with self.lock:
            self._read_greeting()
            outcomes = self.greeting.get("trials") if isinstance(self.greeting, dict) else None
        if not (isinstance(outcomes, dict) and all(
                isinstance(o, list) and len(o) == 2 and (o[0] is None or type(o[0]) is int) and isinstance(o[1], str)
                for o in outcomes.values())):
            self.stop()
            raise OSError("the zygote made no trial runs")
        return {name: (status, said) for name, (status, said) in outcomes.items()}

    def spawn(self, request: dict, fds: tuple[int, ...]) -> int:
        """Fork a sandbox: `fds` are its stdin, stdout, stderr, result channel, control
        socket, hidden paths' file and `done` pipe (zygote.FDS); returns the starter's pid."""
        body = json.dumps(request).encode()
        with self.lock:                   # one request and its reply at a time, whatever the thread
            try:
                socket.send_fds(self.socket, [LENGTH.pack(len(body))], list(fds))
                self.socket.sendall(body)
            except OSError as error:
                self.stop()
                raise OSError(f"the zygote did not answer: {error}") from error
            self._read_greeting()
            reply = self._read_message(ANSWER_SECONDS)
        pid = reply.get("pid") if isinstance(reply, dict) else None
        if type(pid) is not int:
            self.stop()
            raise OSError("the zygote sent an unusable reply")
        return pid

    def _read_greeting(self) -> None:
        """Read the zygote's first message, once (under self.lock)."""
        if self.greeting is None:
            self.greeting = self._read_message(ANSWER_SECONDS + sandbox.PROBE_SECONDS * len(sandbox.LEVELS))

    def _read_message(self, seconds: float):
        from grader import channel  # numpy: imported by the time the zygote answers, not before it starts
        self.socket.settimeout(seconds)
        try:
            return channel.read_message(self.socket.recv, max_bytes=0)
        except (OSError, EOFError, channel.ChannelError) as error:
            self.stop()
            raise OSError(f"the zygote did not answer: {error}") from error

    def stop(self) -> None:
        self.socket.close()
        self.popen.kill()
        self.popen.wait()
        if Zygote._running.get(os.getpid()) is self:
            del Zygote._running[os.getpid()]
