"""How a submission's process is confined: the isolation levels, strongest first, the one
this host allows, and the limits the submission runs under. The child applies them
(child.py, filesystem_view.py); the README's "Security model" says what each protects.

Adding a level is one entry in LEVELS: the command that wraps the child, whether the
child builds the private filesystem view inside it, and the namespaces the wrapper makes
(which the zygote, zygote.py, makes itself when it forks a sandbox).
"""
import functools
import json
import math
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import grader
import reference
from grader.errors import SandboxUnavailable

if TYPE_CHECKING:       # not imported at run time: the zygote's client imports this module before numpy
    from grader.problem_set import Limits

CHILD = Path(__file__).with_name("child.py")
MAX_OUTPUT_BYTES = 16 << 20      # stdout and stderr, each, per call (the import is one)
MAX_OPEN_FILES = 64
MAX_PROCESSES = 64               # where the kernel counts them for the sandbox alone (not for root)
PROBE_SECONDS = 10.0
PASSED_ENVIRONMENT = ("PATH", "LANG", "LC_ALL", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

# What the submission sees at the namespaces level besides its own folder and Python.
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc",
                "/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
SYSTEM_SECRETS = ("/etc/shadow", "/etc/gshadow", "/etc/ssh", "/etc/ssl/private")


@dataclass(frozen=True)
class Level:
    name: str
    wrapper: tuple[str, ...]     # the command put before the child's own
    private_view: bool           # the child builds filesystem_view.build's root
    namespaces: tuple[str, ...] = ()    # the wrapper's namespaces, for a sandbox the zygote forks


NAMESPACES = ("user", "mount", "net", "pid", "ipc", "uts")
LEVELS = {level.name: level for level in (
    Level("namespaces", ("unshare", "--map-root-user", *(f"--{name}" for name in NAMESPACES), "--fork",
                         "--kill-child"), private_view=True, namespaces=NAMESPACES),
    Level("rlimits", (), private_view=False),
)}
CHOICES = ("auto", *LEVELS)


@dataclass(frozen=True)
class Sandbox:
    """How every process of one grading run is confined."""
    level: Level
    visible: tuple[str, ...]     # bound read-only into the submission's root (private_view only)
    hidden: tuple[str, ...]      # covered wherever they show up in it (resolved)
    user: int | None             # the uid the worker switches to, if any (rlimits level as root)
    alone: bool = False          # the view shows the submission's file, not its folder (a class folder of files)

    def command(self, settings: dict) -> list[str]:
        """The child's command line; `settings` is what child.py reads (see its docstring)."""
        return [*self.level.wrapper, sys.executable, "-I", "-B", "-u", str(CHILD), json.dumps(settings)]

    def settings(self, submission: Path) -> dict:
        """The confinement part of the child's settings, for `submission` (resolved). The
        hidden paths are not in them: see `hidden_file`."""
        shown = str(submission if self.alone else submission.parent)
        view = {"visible": [*self.visible, shown], "submission": shown, "cwd": str(submission.parent)}
        return {"view": view if self.level.private_view else None, "user": self.user}

    def hidden_file(self) -> int:
        """A new file descriptor of a file holding the hidden paths (NUL-separated bytes),
        the child's `hidden_fd`; the caller closes it."""
        with tempfile.TemporaryFile() as file:
            file.write(b"\0".join(os.fsencode(path) for path in self.hidden))
            file.flush()
            return os.dup(file.fileno())

    def resource_limits(self, limits: "Limits", calls: int) -> dict[str, int]:
        """setrlimit values (soft = hard) for a worker serving `calls` calls. CPU time is
        budgeted for the import and every call; the worker lowers the soft CPU limit to
        `cpu_seconds_per_call(limits)` more before each call."""
        rlimits = {"RLIMIT_AS": limits.memory_mb << 20, "RLIMIT_CPU": cpu_seconds_per_call(limits) * (calls + 1),
                   "RLIMIT_FSIZE": MAX_OUTPUT_BYTES, "RLIMIT_NOFILE": MAX_OPEN_FILES, "RLIMIT_CORE": 0}
        if self.level.private_view or self.user is not None:
            rlimits["RLIMIT_NPROC"] = MAX_PROCESSES
        return rlimits

    def give(self, path: Path) -> None:
        """Let this sandbox, and no other uid but the grader's, read `path`: a file, or a folder
        and everything in it (never following a link), whatever the umask. Where the sandbox
        runs as another uid (`user`: the rlimits level as root), it is the group of each entry
        (child.py makes it the sandbox's gid), folders 0o750 and files 0o640: the sandbox reads
        and cannot write; elsewhere it runs as the grader's own user (mapped to root at the
        namespaces level), the owner: folders 0o700, files 0o600."""
        folder_mode, file_mode = (0o700, 0o600) if self.user is None else (0o750, 0o640)
        entries = [path]
        for folder, folders, files in os.walk(path):        # nothing for a file; links not followed
            entries += [Path(folder, name) for name in folders + files]
        for entry in entries:
            if entry.is_symlink():
                continue
            if self.user is not None:
                os.chown(entry, -1, self.user)
            os.chmod(entry, folder_mode if entry.is_dir() else file_mode)


def cpu_seconds_per_call(limits: "Limits") -> int:
    """CPU seconds a call may use: the timeout rounded up, plus one (rlimits count whole
    seconds; one thread uses no more CPU than wall-clock time, so the timeout comes first)."""
    return math.ceil(limits.timeout) + 1


def child_environment() -> dict[str, str]:
    """The child's whole environment: nothing of the grader's beyond locale and PATH."""
    env = {k: os.environ[k] for k in PASSED_ENVIRONMENT if k in os.environ}
    threads = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    return {**env, **threads, "PYTHONHASHSEED": "0"}


def _python_paths() -> list[str]:
    return sorted({os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)})


def _package_dir(package) -> str:
    return os.path.realpath(os.path.dirname(package.__file__))


# The uid this process's sandboxes run under at the rlimits level as root, once it has
# claimed a spare one of its own (a Dask worker: grader.cluster.own_uid); else nobody's.
_own_uid: list[int] = []


def use_own_uid(uid: int) -> None:
    """Run this process's sandboxes under `uid` from now on (the rlimits level, as root)."""
    _own_uid[:] = [uid]


def _unprivileged_uid() -> int:
    if _own_uid:
        return _own_uid[0]
    try:
        return pwd.getpwnam("nobody").pw_uid
    except KeyError:
        return 65534


def trial(level: Level) -> tuple[Sandbox, dict]:
    """The confinement and the child's settings (with `probe`: set up, then exit) of a trial
    run of `level`: the child's whole set-up (namespaces, the private root with the grader's
    own folder hidden, the nested namespace that locks it), with no submission."""
    confinement = Sandbox(level, tuple(SYSTEM_PATHS) + tuple(_python_paths()),
                          (_package_dir(grader), *SYSTEM_SECRETS), None)
    return confinement, {**confinement.settings(CHILD), "probe": True, "submission": str(CHILD)}


def trial_verdict(status: int | None, printed: str) -> str | None:
    """Why a trial run that ended with exit `status` (None: not within PROBE_SECONDS), having
    printed `printed`, shows its level unusable here; None when it succeeded."""
    if status is None:
        return f"the trial run did not finish within {PROBE_SECONDS:g} s"
    if status != 0:
        lines = printed.strip().splitlines()
        return lines[-1] if lines else f"the trial run exited with status {status}"
    return None


@functools.cache
def unavailable(name: str, start: str = "zygote") -> str | None:
    """Why level `name` cannot confine a submission on this host, or None when it can.

    A trial run (`trial`) of a sandbox started as `start` starts them (runner.STARTS):
    "zygote", the one the zygote makes as it starts (zygote_client), or "fresh", a new
    interpreter under the level's wrapper; done once per grader process, never cached on disk."""
    level = LEVELS[name]
    if not level.wrapper:
        return None
    if shutil.which(level.wrapper[0]) is None:
        return f"{level.wrapper[0]} is not installed"
    if start == "zygote":
        from grader.zygote_client import Zygote  # which imports this module
        return trial_verdict(*Zygote.trial_run(name))
    confinement, settings = trial(level)
    hidden_fd = confinement.hidden_file()
    try:
        done = subprocess.run(confinement.command({**settings, "hidden_fd": hidden_fd}), env=child_environment(),
                              capture_output=True, text=True, timeout=PROBE_SECONDS, cwd="/", pass_fds=(hidden_fd,))
    except subprocess.TimeoutExpired:
        return trial_verdict(None, "")
    except OSError as error:
        return str(error)
    finally:
        os.close(hidden_fd)
    return trial_verdict(done.returncode, done.stderr)


def choose(requested: str = "auto", start: str = "zygote") -> Level:
    """The level to use for sandboxes started as `start`: the strongest available for
    "auto", else the one named. Raises SandboxUnavailable when a named level cannot run here."""
    if requested == "auto":
        return next(LEVELS[name] for name in LEVELS if unavailable(name, start) is None)
    if requested not in LEVELS:
        raise SandboxUnavailable(f"unknown isolation level {requested!r}: choose one of {', '.join(CHOICES)}")
    reason = unavailable(requested, start)
    if reason:
        raise SandboxUnavailable(f"isolation level {requested!r} is not available here: {reason}")
    return LEVELS[requested]


def sandbox_for(problem_set: str | Path, isolation: str = "auto", hide=(), start: str = "zygote") -> Sandbox:
    """The confinement for grading against `problem_set`, sandboxes started as `start`: the
    problem set, the grader's and the reference's sources, system secrets and every path in
    `hide` are never readable (at the namespaces level, where the view is private)."""
    level = choose(isolation, start)
    hidden = (_package_dir(grader), _package_dir(reference), os.path.realpath(problem_set),
              *SYSTEM_SECRETS, *(os.path.realpath(p) for p in hide))
    user = _unprivileged_uid() if not level.private_view and os.geteuid() == 0 else None
    return Sandbox(level, tuple(SYSTEM_PATHS) + tuple(_python_paths()), hidden, user)
