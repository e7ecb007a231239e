"""Prints its uid, the resource limits it runs under and the keys of its trace, answers
honestly."""
import os
import resource

from correct import backward as honest

NAMES = ("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_CORE")


def backward(trace):
    if trace["T"] == 4:
        print("uid", os.getuid())
        for name in NAMES:
            print(name, *resource.getrlimit(getattr(resource, name)))
        print("trace:", *sorted(trace))
    return honest(trace)
