"""Files replaced in one step, so that no reader (nor a batch killed midway) ever sees half of one."""
import os
import tempfile
from pathlib import Path

from grader.errors import UsageError


def write_atomically(path: str | os.PathLike, content: str | bytes, parents: bool = False) -> None:
    """Write `content` to a temporary file beside `path`, then rename it over `path`;
    with `parents`, make the missing folders above it first."""
    target = Path(path)
    try:
        if parents:
            target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent if str(target.parent) else ".",
                                         prefix=f".{target.name}.")
        try:
            with os.fdopen(fd, "wb" if isinstance(content, bytes) else "w") as f:
                f.write(content)
            os.replace(temporary, target)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror}") from None
