"""The narrow data channel between the grader and a submission's process.

A message is one JSON header plus raw float64 buffers, never pickle:

    8-byte big-endian header length | header (UTF-8 JSON) | buffers, back to back

Arrays travel as {"$array": i, "shape": [...]} in the header, where i indexes the
buffers in order; every buffer is little-endian float64. This module must import only
the standard library and numpy: the child process runs it by file path, with the grader
package unimportable.
"""
import json
import math
import os
import struct

import numpy as np

HEADER = struct.Struct(">Q")
MAX_HEADER_BYTES = 1 << 20


class ChannelError(Exception):
    """The peer sent something that is not a well-formed message, or too much."""


def encode(obj) -> bytes:
    """Serialise a tree of dicts, lists, str, bool, None, numbers and float64 arrays."""
    buffers = []

    def strip(value):
        if isinstance(value, np.ndarray):
            buffers.append(np.ascontiguousarray(value, dtype="<f8").tobytes())
            return {"$array": len(buffers) - 1, "shape": list(value.shape)}
        if isinstance(value, dict):
            return {str(k): strip(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [strip(v) for v in value]
        return value

    header = json.dumps(strip(obj), allow_nan=True).encode()
    return HEADER.pack(len(header)) + header + b"".join(buffers)


def write_message(fd: int, obj) -> None:
    data = memoryview(encode(obj))
    while data:
        data = data[os.write(fd, data):]


def read_exactly(read, n: int) -> bytes:
    """Read n bytes with `read(k) -> bytes`; raise EOFError when the peer is gone."""
    chunks, remaining = [], n
    while remaining:
        chunk = read(min(remaining, 1 << 20))
        if not chunk:
            raise EOFError("the channel closed")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_message(read, max_bytes: int):
    """Read one message with `read(k) -> bytes`; arrays come back as float64 ndarrays.

    Raises ChannelError when the message is malformed or its buffers exceed max_bytes;
    EOFError when the peer closed the channel."""
    (length,) = HEADER.unpack(read_exactly(read, HEADER.size))
    if length > MAX_HEADER_BYTES:
        raise ChannelError(f"message header of {length} bytes is over the limit")
    try:
        return _decode(read_exactly(read, length), read, max_bytes)
    except RecursionError:
        raise ChannelError("message header is nested too deeply") from None


def _decode(header_bytes: bytes, read, max_bytes: int):
    try:
        header = json.loads(header_bytes)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ChannelError(f"message header is not JSON: {error}") from None
    shapes = []

    def collect(value):
        if isinstance(value, dict):
            if "$array" in value:
                shape = value.get("shape")
                if not (isinstance(shape, list) and all(type(n) is int and n >= 0 for n in shape)):
                    raise ChannelError("array with a malformed shape")
                if type(value["$array"]) is not int or value["$array"] != len(shapes):
                    raise ChannelError("array references out of order")
                shapes.append(tuple(shape))
            else:
                for v in value.values():
                    collect(v)
        elif isinstance(value, list):
            for v in value:
                collect(v)

    collect(header)
    sizes = [8 * math.prod(shape) for shape in shapes]      # Python ints: no overflow
    if sum(sizes) > max_bytes:
        raise ChannelError(f"{sum(sizes)} bytes of arrays, over the limit of {max_bytes}")
    arrays = [np.frombuffer(read_exactly(read, n), dtype="<f8").reshape(shape).astype(np.float64)
              for n, shape in zip(sizes, shapes)]

    def restore(value):
        if isinstance(value, dict):
            if "$array" in value:
                return arrays[value["$array"]]
            return {k: restore(v) for k, v in value.items()}
        if isinstance(value, list):
            return [restore(v) for v in value]
        return value

    return restore(header)
