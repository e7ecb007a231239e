"""Ends its process with os._exit(0) on the first problem."""
import os

from correct import backward as honest


def backward(trace):
    if trace["T"] == 4:
        os._exit(0)
    return honest(trace)
