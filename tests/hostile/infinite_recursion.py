"""Recurses without end."""


def descend(n):
    return descend(n + 1)


def backward(trace):
    return descend(0)
