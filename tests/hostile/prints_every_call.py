"""Prints 10 MB of debugging output on every call (16 MB is the limit per call); answers honestly."""
from correct import backward as honest


def backward(trace):
    print("x" * (10 << 20))
    return honest(trace)
