"""Leaves a daemon behind (double fork, setsid) that keeps trying to overwrite the report
file after the grader has finished, and prints "daemon up" once it runs. Being a fork of
the sandbox's process, its command line names this folder: a test can find it if it
survives."""
import json
import os
import select
import time

from correct import backward as honest

here = os.path.dirname(os.path.abspath(__file__))
report = json.load(open(os.path.join(here, "targets.json")))["report"]


def haunt(up: int) -> None:
    os.write(up, b"up")
    for _ in range(100):
        time.sleep(0.05)
        try:
            with open(report, "w") as f:
                f.write("forged")
        except OSError:
            pass
    os._exit(0)


def backward(trace):
    if trace["T"] == 4:
        ready, up = os.pipe()
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                haunt(up)
            os._exit(0)
        os.close(up)
        if select.select([ready], [], [], 5)[0] and os.read(ready, 2) == b"up":
            print("daemon up")
    return honest(trace)
