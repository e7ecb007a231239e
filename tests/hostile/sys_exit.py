"""Calls sys.exit(0) on the first problem, hoping a clean exit reads as success."""
import sys

from correct import backward as honest


def backward(trace):
    if trace["T"] == 4:
        sys.exit(0)
    return honest(trace)
