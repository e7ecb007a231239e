"""Raises from a helper of its own."""


def helper(trace):
    raise ValueError("my bug")


def backward(trace):
    return helper(trace)
