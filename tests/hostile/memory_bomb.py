"""Grabs memory in 256 MB blocks on the first problem. Bounded at 2 GB (and the blocks are
never written, so they cost no time), so even without a memory limit it cannot take the
machine down."""
from correct import backward as honest


def backward(trace):
    if trace["T"] == 4:
        hoard = [bytearray(1 << 28) for _ in range(8)]
        del hoard
    return honest(trace)
