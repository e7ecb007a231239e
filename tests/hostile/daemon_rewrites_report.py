"""Leaves a daemon behind (double fork, setsid, exec) that waits for the grader to finish
and then overwrites the report file. Its command line names this folder, so a test can
find it if it survives."""
import json
import os
import sys

from correct import backward as honest

here = os.path.dirname(os.path.abspath(__file__))
report = json.load(open(os.path.join(here, "targets.json")))["report"]
DAEMON = ("import sys, time\n"
          "for _ in range(100):\n"
          "    time.sleep(0.05)\n"
          "    try:\n"
          "        open(sys.argv[1], 'w').write('forged')\n"
          "    except OSError:\n"
          "        pass\n")


def backward(trace):
    if trace["T"] == 4 and os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv(sys.executable, [sys.executable, "-c", DAEMON, report, here])
        os._exit(0)
    return honest(trace)
