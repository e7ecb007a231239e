"""Correct, but takes half a second per call: graded under --timeout 5, it passes."""
import time

from correct import backward as honest


def backward(trace):
    time.sleep(0.5)
    return honest(trace)
