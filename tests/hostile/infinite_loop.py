"""Loops forever on the first problem (T = 4)."""
from correct import backward as honest


def backward(trace):
    while trace["T"] == 4:
        pass
    return honest(trace)
