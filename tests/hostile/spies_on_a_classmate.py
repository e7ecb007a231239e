"""Graded on a worker beside a classmate graded on another (both this file, each under its
own uid, in a folder of the worker's temporary folder: TMP/TASK/FOLDER/submission.py),
once: lists its own folder and reads its own file, then meets the classmate in
TMP/rendezvous (a folder the test makes that every uid may write), where each leaves its
file's path under its uid; tries to list the classmate's task folder and submission
folder and to read its file while both run, and prints what each attempt gave (no
classmate within WAIT_SECONDS: says so); waits until the classmate has tried too;
answers honestly."""
import os
import time
from pathlib import Path

from correct import backward as honest

WAIT_SECONDS = 30.0


def wait_for(rendezvous: Path, stage: str) -> list[Path]:
    """The files of `stage` in `rendezvous`, once there are two (this one's and the classmate's)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while len(found := sorted(rendezvous.glob(f"{stage}-*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def publish(rendezvous: Path, name: str, text: str) -> None:
    """Leave `text` as rendezvous/NAME whole: a classmate polling for it never reads it half written."""
    draft = rendezvous / f".{name}"
    draft.write_text(text)
    draft.rename(rendezvous / name)


def attempt(action) -> str:
    try:
        return repr(action())
    except OSError as error:
        return type(error).__name__


def backward(trace):
    me = Path(__file__).resolve()
    rendezvous, uid = me.parents[2] / "rendezvous", os.getuid()
    if trace["T"] == 4 and not (rendezvous / f"tried-{uid}").exists():       # once
        print("own folder:", sorted(os.listdir(me.parent)))
        print("own file:", attempt(lambda: len(me.read_bytes())))
        publish(rendezvous, f"ready-{uid}", str(me))
        classmates = [path for path in wait_for(rendezvous, "ready") if path.name != f"ready-{uid}"]
        if not classmates:
            print("no classmate")
        for classmate in classmates:
            file = Path(classmate.read_text())
            print("classmate's task folder:", attempt(lambda: os.listdir(file.parents[1])))
            print("classmate's folder:", attempt(lambda: os.listdir(file.parent)))
            print("classmate's file:", attempt(lambda: len(file.read_bytes())))
        publish(rendezvous, f"tried-{uid}", "")
        wait_for(rendezvous, "tried")
    return honest(trace)
