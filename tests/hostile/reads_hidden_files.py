"""Tries to read the reference, the grader, the problem set, a file elsewhere on the
machine and answers.txt in its own folder, by path (targets.json beside it names them),
prints what it could read, and answers honestly."""
import json
import os

from correct import backward as honest

targets = json.load(open(os.path.join(os.path.dirname(__file__), "targets.json")))


def readable(path):
    try:
        return bool(os.listdir(path)) if os.path.isdir(path) else bool(open(path, "rb").read())
    except OSError:
        return False


def backward(trace):
    if trace["T"] == 4:
        print("readable:", [name for name in ("reference", "grader", "problem_set", "elsewhere", "answers") if readable(targets[name])])
    return honest(trace)
