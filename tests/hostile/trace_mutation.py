"""Writes into the trace it was given on the first problem."""
from correct import backward as honest


def backward(trace):
    if trace["T"] == 4:
        trace["x"][0] = 1.0
    return honest(trace)
