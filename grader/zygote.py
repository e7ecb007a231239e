"""A pre-started, clean process that forks each submission's sandbox, run as a script:

    python -I -B -u zygote.py SOCKET_FD GRADER_PID TRIALS ROOM

It imports numpy and the child's own modules (child.py, channel.py, filesystem_view.py)
and nothing of the grader's: no problem set, no reference, no expected value is ever in
its memory. It holds no namespace and no limit itself. For each request on SOCKET_FD (the
child's settings, the namespaces to create and the folder to start in, with the sandbox's
stdin, stdout, stderr, result channel, control socket, hidden paths' file and `done` pipe
as passed file descriptors) it forks a `starter` that does what `sandbox.Level.wrapper` + a fresh
`python child.py` would: a new session, the level's namespaces (unshare(2), the outer
uid and gid mapped to root, mounts made private), then forks the supervisor, which runs
child.main: the private view, the worker, every per-submission limit, all after the fork.
The zygote dies with the grader (GRADER_PID), each starter with the zygote, each supervisor
with its starter (PR_SET_PDEATHSIG). The starter waits for the supervisor and exits with its
status; the grader learns it is gone when `done` (held by the starter alone) reads
end-of-file. Replies: {"pid": starter}.

TRIALS ({level: request}, JSON; the requests' `hidden_fd` passed open) are the trial runs
to make first (sandbox.trial: a sandbox's whole set-up, ended before any submission would
be imported). The zygote's first message, before any reply, says how each ended:
{"trials": {level: [exit status or null when it took longer than the request's
`seconds`, what it printed]}}.

ROOM is padding: the space in the command line the zygote writes its own title into
("bptt-grade zygote"), and each sandbox's ("bptt-grade sandbox SUBMISSION"), so that, as
with a fresh child's settings, `ps` and /proc/PID/cmdline name a sandbox's submission.
"""
import ctypes
import json
import os
import pathlib
import select
import signal
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import channel  # noqa: E402
import child  # noqa: E402  (numpy, channel, filesystem_view: imported once, shared by every fork)
import filesystem_view  # noqa: E402
from process_control import PR_SET_DUMPABLE, PR_SET_PDEATHSIG, prctl  # noqa: E402

del sys.path[0]
LENGTH = struct.Struct("<Q")
FDS = ("stdin", "stdout", "stderr", "channel_fd", "control_fd", "hidden_fd", "done")


def retitle(title: str) -> None:
    """Make /proc/self/cmdline `title` (cut to the room the command line holds); Linux only."""
    if sys.platform != "linux":
        return
    after_name = pathlib.Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    start, end = int(after_name[45]), int(after_name[46])      # fields 48 and 49: arg_start, arg_end
    text = os.fsencode(title)[:end - start - 1]
    ctypes.memset(start, 0, end - start)
    ctypes.memmove(start, text, len(text))


def start(request: dict, fds: dict[str, int]) -> None:
    """In the forked starter: never returns."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        prctl(PR_SET_DUMPABLE, 1)    # as after exec: the sandbox's processes as a fresh child's
        os.setsid()
        retitle(f"bptt-grade sandbox {request['settings']['submission']}")
        for target, name in enumerate(("stdin", "stdout", "stderr")):
            os.dup2(fds[name], target)
        os.chdir(request["cwd"])
        filesystem_view.enter_namespaces(request["namespaces"])
        settings = {**request["settings"], **{name: fds[name] for name in ("channel_fd", "control_fd", "hidden_fd")}}
        supervisor = os.fork()                    # PID 1 of a new PID namespace
        if supervisor == 0:
            prctl(PR_SET_PDEATHSIG, signal.SIGKILL)     # unshare --kill-child
            for name in ("stdin", "stdout", "stderr", "done"):
                os.close(fds[name])
            child.main(settings)                  # never returns
        for name in ("stdin", "stdout", "stderr", "channel_fd", "control_fd", "hidden_fd"):
            os.close(fds[name])
        null = os.open(os.devnull, os.O_RDWR)
        for target in (0, 1, 2):
            os.dup2(null, target)
        _, status = os.waitpid(supervisor, 0)
        code = os.waitstatus_to_exitcode(status)
    except BaseException as error:
        os.write(2, f"the sandbox could not be started: {error}\n".encode(errors="backslashreplace"))
    finally:
        os._exit(code if 0 <= code < 256 else 1)


def trial(request: dict) -> tuple[int | None, str]:
    """Start a sandbox as `start` does for `request` (a trial, see the module docstring) and
    wait for it: (its exit status or None when it took longer than request["seconds"], the
    last 4,000 characters it printed). Runs before `serve`, while starters are still waited for."""
    said, stderr = os.pipe()
    fds = {name: os.open(os.devnull, os.O_RDWR) for name in FDS if name not in ("stderr", "hidden_fd")}
    fds.update(stderr=stderr, hidden_fd=request["settings"]["hidden_fd"])
    starter = os.fork()
    if starter == 0:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        os.close(said)
        start(request, fds)
    for fd in fds.values():
        os.close(fd)
    output, status = b"", None
    deadline = time.monotonic() + request["seconds"]
    while (remaining := deadline - time.monotonic()) > 0 and select.select([said], [], [], remaining)[0]:
        chunk = os.read(said, 1 << 16)
        if not chunk:              # the starter and everything it started are gone
            status = os.waitstatus_to_exitcode(os.waitpid(starter, 0)[1])
            break
        output = output[-4000:] + chunk
    os.close(said)
    if status is None:
        os.kill(starter, signal.SIGKILL)          # its supervisor and worker die with it
        os.waitpid(starter, 0)
    return status, output.decode(errors="replace")[-4000:]


def receive(sock: socket.socket) -> tuple[dict, dict[str, int]] | None:
    """The next request and its file descriptors by name; None when the grader has gone."""
    head, fds, _, _ = socket.recv_fds(sock, LENGTH.size, len(FDS))
    if not head:
        return None
    head += channel.read_exactly(sock.recv, LENGTH.size - len(head))
    body = channel.read_exactly(sock.recv, LENGTH.unpack(head)[0])
    if len(fds) != len(FDS):
        raise OSError(f"expected {len(FDS)} file descriptors, got {len(fds)}")
    return json.loads(body), dict(zip(FDS, fds, strict=True))


def serve(sock: socket.socket) -> None:
    prctl(PR_SET_DUMPABLE, 0)            # a submission of the grader's own uid cannot ptrace us
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)    # starters are reaped by the kernel
    while (received := receive(sock)) is not None:
        request, fds = received
        starter = os.fork()
        if starter == 0:
            prctl(PR_SET_PDEATHSIG, signal.SIGKILL)      # the zygote's death ends every sandbox
            sock.close()
            start(request, fds)
        for fd in fds.values():
            os.close(fd)
        sock.sendall(channel.encode({"pid": starter}))


if __name__ == "__main__":
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)              # the grader's death ends the zygote
    if os.getppid() != int(sys.argv[2]):                 # the grader died before that
        sys.exit(1)
    signal.signal(signal.SIGINT, signal.default_int_handler)     # as in any interpreter, whatever the grader ignores
    retitle("bptt-grade zygote")
    grader = socket.socket(fileno=int(sys.argv[1]))
    trials = {name: trial(request) for name, request in json.loads(sys.argv[3]).items()}
    grader.sendall(channel.encode({"trials": trials}))
    serve(grader)
