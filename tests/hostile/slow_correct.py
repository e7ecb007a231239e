"""Correct, but takes half a second per call."""
import time

from correct import backward as honest


def backward(trace):
    time.sleep(0.5)
    return honest(trace)
