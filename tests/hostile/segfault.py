"""Dereferences a null pointer through ctypes on the first problem."""
import ctypes

from correct import backward as honest


def backward(trace):
    if trace["T"] == 4:
        ctypes.string_at(0)
    return honest(trace)
