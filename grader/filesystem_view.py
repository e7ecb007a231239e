"""The filesystem a submission sees at the `namespaces` isolation level (Linux).

Runs inside the child (see child.py), in the user and mount namespaces unshare(1) made,
and imports only the standard library: it is loaded by file path.

`build`, in the supervisor (which holds CAP_SYS_ADMIN in that user namespace), replaces
the root by a fresh tmpfs holding only:
  - the `visible` paths (system folders, the Python installation, the submission's
    folder, a few devices), bound read-only at the same place;
  - an empty, writable, size-limited /tmp, and a /proc of the sandbox's PID namespace;
with every `hidden` path that shows up inside them covered by an empty folder or file, and
every file under the submission's own path that *is* a hidden file (a hard link: the same
device and inode) covered by /dev/null. The old root is detached (pivot_root), so no path
or `..` leads back to it. `build_from` does it in a short-lived process of its own that
reads the hidden paths from a file descriptor, so the process that goes on to run the
submission never holds that list (the class roster, the output folder): pivot_root moves
every process of the mount namespace into the new root.

`enter_namespaces`, in a sandbox the zygote forks (zygote.py), makes the namespaces that
unshare(1) makes for a fresh child.

`lock`, in the worker before any submission code runs, enters a nested user and mount
namespace: the kernel then locks every mount above (MNT_LOCKED, MNT_LOCK_READONLY), so
the submission, root in its namespace, can neither unmount a cover nor remount anything
writable.
"""
import ctypes
import os
import platform

MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC, MS_PRIVATE = 0x2, 0x4, 0x8, 0x1000, 0x4000, 0x40000
MNT_DETACH = 0x2
CLONE_NEWNS, CLONE_NEWUSER = 0x20000, 0x10000000
CLONE_FLAGS = {"mount": CLONE_NEWNS, "uts": 0x4000000, "ipc": 0x8000000, "user": CLONE_NEWUSER,
               "pid": 0x20000000, "net": 0x40000000}
AT_FDCWD, AT_RECURSIVE, MOUNT_ATTR_RDONLY = -100, 0x8000, 0x1
SYS_MOUNT_SETATTR = 442                  # Linux ≥ 5.12; the same number on every architecture
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}
STAGING = "/tmp"                         # where the new root is assembled before pivot_root
TMP_SIZE = "64m"                         # the private /tmp: tmpfs pages are memory, so bounded

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]


class _MountAttr(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint64) for name in ("attr_set", "attr_clr", "propagation", "userns_fd")]


def _check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    encode = lambda s: None if s is None else os.fsencode(s)  # noqa: E731   (a name's bytes, whatever they are)
    _check(_libc.mount(encode(source), encode(target), encode(fstype), flags, encode(data)), f"mount {target}")


def _syscall(number: int, *args) -> int:
    return _libc.syscall(ctypes.c_long(number), *args)


def _set_readonly(path: str, readonly: bool, recursive: bool) -> None:
    attr = _MountAttr(MOUNT_ATTR_RDONLY, 0, 0, 0) if readonly else _MountAttr(0, MOUNT_ATTR_RDONLY, 0, 0)
    _check(_syscall(SYS_MOUNT_SETATTR, ctypes.c_long(AT_FDCWD), os.fsencode(path),
                    ctypes.c_long(AT_RECURSIVE if recursive else 0), ctypes.byref(attr),
                    ctypes.c_long(ctypes.sizeof(attr))), f"mount_setattr {path}")


def _identity(path: str) -> tuple[int, int]:
    status = os.stat(path)
    return status.st_dev, status.st_ino


def _depth(path: str) -> int:
    return path.rstrip("/").count("/")


def _mount_point(target: str, is_dir: bool) -> None:
    if is_dir:
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()


def hard_links(root: str, identities: set[tuple[int, int]]) -> list[str]:
    """Files under `root` (itself included; links never followed) whose identity is in `identities`."""
    if os.path.isfile(root) and not os.path.islink(root):
        return [root] if _identity(root) in identities else []
    found = []
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            status = os.lstat(path)
            if status.st_nlink > 1 and (status.st_dev, status.st_ino) in identities:
                found.append(path)
    return found


def build_from(hidden_fd: int, visible: list[str], submission: str, cwd: str) -> None:
    """`build` in a process forked for it, with the hidden paths read from `hidden_fd` (a
    file: NUL-separated paths, as bytes); returns in the new root, at `cwd`. The caller
    must be in a private mount namespace and hold nothing else that pivot_root moves."""
    builder = os.fork()
    if builder == 0:
        code = 1
        try:
            size = os.fstat(hidden_fd).st_size
            listed = os.pread(hidden_fd, size, 0).split(b"\0") if size else []
            build(visible, [os.fsdecode(path) for path in listed], submission, cwd)
            code = 0
        except BaseException as error:
            os.write(2, f"the filesystem view could not be built: {error}\n".encode(errors="backslashreplace"))
        finally:
            os._exit(code)
    os.close(hidden_fd)
    _, status = os.waitpid(builder, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise OSError("the filesystem view could not be built")
    os.chdir(cwd)


def build(visible: list[str], hidden: list[str], submission: str, cwd: str) -> None:
    """Make the submission's view this mount namespace's root, then chdir to `cwd` in it.
    `submission` (visible too) is where hard links of hidden files are looked for.

    Paths are absolute and resolved, except that a visible symbolic link (e.g. /bin →
    usr/bin) is recreated as a link. Requires a private mount namespace."""
    visible = sorted((p for p in set(visible) if os.path.lexists(p)), key=_depth)
    links = {p: os.readlink(p) for p in visible if os.path.islink(p)}
    kept = [p for p in visible if p not in links
            and not any(p.startswith(q.rstrip("/") + "/") for q in visible if q != p and q not in links)]
    anchors = {p: os.open(p, os.O_PATH | os.O_CLOEXEC) for p in kept}      # before STAGING is covered
    is_dir = {p: os.path.isdir(p) for p in kept}
    covered = {p: _identity(p) for p in hidden if os.path.exists(p)}
    identities = {identity for path, identity in covered.items() if not os.path.isdir(path)}
    covered.update({p: _identity(p) for p in hard_links(submission, identities)})
    new = lambda path: STAGING + path  # noqa: E731  (where `path` lands in the new root)

    _mount("tmpfs", STAGING, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")
    private_tmp = "/tmp" not in kept
    if private_tmp:
        _mount_point(new("/tmp"), True)
        _mount("tmpfs", new("/tmp"), "tmpfs", MS_NOSUID | MS_NODEV, f"size={TMP_SIZE},mode=1777")
    for path in kept:
        _mount_point(new(path), is_dir[path])
        _mount(f"/proc/self/fd/{anchors[path]}", new(path), None, MS_BIND | MS_REC)
        os.close(anchors[path])
    for path, target in links.items():
        _mount_point(os.path.dirname(new(path)), True)
        os.symlink(target, new(path))
    for path, identity in covered.items():
        if os.path.exists(new(path)) and _identity(new(path)) == identity:
            if os.path.isdir(new(path)):
                _mount("tmpfs", new(path), "tmpfs", MS_NOSUID | MS_NODEV, "size=4k,mode=755")
            else:
                _mount("/dev/null", new(path), None, MS_BIND)
    _mount_point(new("/proc"), True)
    _mount("proc", new("/proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _set_readonly(STAGING, readonly=True, recursive=True)
    if private_tmp:
        _set_readonly(new("/tmp"), readonly=False, recursive=False)

    os.chdir(STAGING)
    pivot_root = SYS_PIVOT_ROOT.get(platform.machine())
    if pivot_root is None:
        raise OSError(f"pivot_root: no system call number known for {platform.machine()}")
    _check(_syscall(pivot_root, b".", b"."), "pivot_root")          # the old root now lies on top
    _check(_libc.umount2(b".", MNT_DETACH), "detach the old root")
    os.chdir(cwd)


def lock() -> None:
    """Enter a nested user and mount namespace, which locks every mount made by `build`.
    The calling process must be single-threaded (a fresh fork is)."""
    _check(_libc.unshare(CLONE_NEWUSER | CLONE_NEWNS), "unshare")


def enter_namespaces(names: list[str]) -> None:
    """unshare(1) --map-root-user with `names`: the caller becomes root of a new user
    namespace (mapped to its own uid and gid outside) and its mounts stop propagating."""
    if not names:
        return
    uid, gid = os.getuid(), os.getgid()
    _check(_libc.unshare(sum(CLONE_FLAGS[name] for name in set(names))), "unshare")
    if "user" in names:
        for file, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
            with open(f"/proc/self/{file}", "w") as f:
                f.write(text)
    if "mount" in names:
        _mount("none", "/", None, MS_REC | MS_PRIVATE)
