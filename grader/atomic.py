"""Files written in one step, so that no reader (nor a batch killed midway) ever sees half
of one, with the modes the umask gives.

A new name or a regular file is replaced by a rename. A pipe or a character device (a
FIFO, a terminal, /dev/null, /dev/stdout on either) is written through, never replaced.
Anything else is refused: a folder, a block device, and a symbolic link to a regular file
(a rename would replace the link, not the file; and writing through a link that someone
else could have planted could overwrite whatever it points to).
"""
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from grader.errors import UsageError


def written_through(path: str | os.PathLike) -> bool:
    """Whether `path` (its links followed) is a pipe or a character device."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)


Writer = Callable[[BinaryIO], object]     # writes the content to the binary file it is given
TEMPORARY = re.compile(r"\..+\.[0-9a-f]{12}")     # the name _replace writes under before its rename


def remove_unfinished(folder: Path) -> None:
    """Remove the temporary files that writers killed midway (SIGKILL: no clean-up ran) left
    in `folder` and the folders in it: regular files named as _replace names them."""
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            if TEMPORARY.fullmatch(name) and stat.S_ISREG(os.lstat(path).st_mode):
                os.unlink(path)


def write_atomically(path: str | os.PathLike, content: str | bytes | Writer, parents: bool = False) -> None:
    """Write `content` (text as UTF-8, bytes, or a function that writes to the binary file it
    is given, e.g. by np.savez) to `path` as the module says; with `parents`, make the missing
    folders above it first. A UsageError says why it could not."""
    target = Path(path)
    write = content if callable(content) else _writing(content if isinstance(content, bytes) else content.encode())
    try:
        if parents:
            target.parent.mkdir(parents=True, exist_ok=True)
        try:
            mode = os.lstat(target).st_mode
        except FileNotFoundError:
            mode = None
        if mode is None or stat.S_ISREG(mode):
            _replace(target, write)
        else:
            _write_through(target, write, mode)
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror}") from None


def _writing(data: bytes) -> Writer:
    return lambda file: file.write(data)


def _replace(target: Path, write: Writer) -> None:
    """A new file beside `target` (its mode 0666 less the umask), renamed over it."""
    while True:
        temporary = target.with_name(f".{target.name}.{os.urandom(6).hex()}")
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise


def _write_through(target: Path, write: Writer, mode: int) -> None:
    """Write into the pipe or character device at `target` (whose lstat mode is `mode`)."""
    if stat.S_ISDIR(mode):
        raise UsageError(f"cannot write {target}: it is a folder")
    link = stat.S_ISLNK(mode)
    fd = os.open(target, os.O_WRONLY | os.O_NOCTTY | (0 if link else os.O_NOFOLLOW))
    try:
        opened = os.fstat(fd).st_mode
        if not (stat.S_ISFIFO(opened) or stat.S_ISCHR(opened)):
            kind = "a block device" if stat.S_ISBLK(opened) else "neither a file, a pipe nor a character device"
            if link:
                kind = f"a symbolic link to {'a regular file' if stat.S_ISREG(opened) else kind}"
            raise UsageError(f"cannot write {target}: it is {kind}; name a regular file (replaced in one step), "
                             "a pipe or a terminal")
        with open(fd, "wb", closefd=False) as f:
            write(f)
    finally:
        os.close(fd)
