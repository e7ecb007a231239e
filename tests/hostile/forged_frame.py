"""Writes a malformed result frame (the header in frame.json beside it, then zero
buffers) onto every file descriptor it has, hoping one is the result channel, then exits
before the real result is sent."""
import os
import struct
from pathlib import Path

from correct import backward as honest


def backward(trace):
    if trace["T"] == 4:
        header = (Path(__file__).parent / "frame.json").read_bytes()
        frame = struct.pack(">Q", len(header)) + header + bytes(64)
        for fd in range(3, 64):
            try:
                os.write(fd, frame)
            except OSError:
                pass
        os._exit(0)
    return honest(trace)
