"""Starts 100 sleeping children on the first problem (bounded: a test must not be able to
hurt the machine), says how many it started, then answers honestly. A fork the limits
refuse ends the storm."""
import os
import time

from correct import backward as honest


def backward(trace):
    if trace["T"] == 4:
        started = 0
        for _ in range(100):
            try:
                pid = os.fork()
            except OSError:
                break
            if pid == 0:
                time.sleep(60)
                os._exit(0)
            started += 1
        print("children started:", started)
    return honest(trace)
