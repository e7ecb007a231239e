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
MAX_DIMENSIONS = 32         # of an array (numpy's own limit is 64, 32 before numpy 2)
MAX_INTEGER_DIGITS = 20     # of a number in the header: shapes, indices and statuses fit in 64 bits
CHUNK_BYTES = 1 << 20       # read at a time


class ChannelError(Exception):
    """The peer sent something that is not a well-formed message, or too much."""


def encoded_parts(obj) -> list:
    """The message serialising a tree of dicts, lists, str, bool, None, numbers and float64
    arrays, in parts to send in turn: the length and header, then each array's bytes (a view
    of the array itself where it is contiguous little-endian float64: never a copy of it)."""
    buffers: list[memoryview] = []
    header = json.dumps(_stripped(obj, buffers), allow_nan=True).encode()
    return [HEADER.pack(len(header)) + header, *buffers]


def _stripped(value, buffers: list[memoryview]):
    """`value` with each array replaced by {"$array": i, "shape": [...]}, its bytes appended
    to `buffers` as buffer i. (Not a closure over `buffers`: a recursive closure is a cycle,
    which would keep a copied array alive until the garbage collector ran.)"""
    if isinstance(value, np.ndarray):
        contiguous = np.ascontiguousarray(value, dtype="<f8")
        buffers.append(contiguous.reshape(-1).view(np.uint8).data)
        return {"$array": len(buffers) - 1, "shape": list(value.shape)}
    if isinstance(value, dict):
        return {str(k): _stripped(v, buffers) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_stripped(v, buffers) for v in value]
    return value


def encode(obj) -> bytes:
    """The message serialising `obj` (see encoded_parts) as one bytes object."""
    return b"".join(encoded_parts(obj))


def write_message(fd: int, obj) -> None:
    for part in encoded_parts(obj):
        data = memoryview(part)
        while data:
            data = data[os.write(fd, data):]


def read_into(read, buffer: memoryview) -> None:
    """Fill `buffer` (bytes) with `read(k) -> bytes`, at most CHUNK_BYTES at a time; raise
    EOFError when the peer is gone."""
    filled = 0
    while filled < len(buffer):
        chunk = read(min(len(buffer) - filled, CHUNK_BYTES))
        if not chunk:
            raise EOFError("the channel closed")
        buffer[filled:filled + len(chunk)] = chunk
        filled += len(chunk)


def read_exactly(read, n: int) -> bytes:
    """Read n bytes with `read(k) -> bytes`; raise EOFError when the peer is gone."""
    buffer = bytearray(n)
    read_into(read, memoryview(buffer))
    return bytes(buffer)


def read_array(read, shape: tuple[int, ...]) -> np.ndarray:
    """An array of `shape` read with `read(k) -> bytes` straight into its own memory
    (little-endian float64 on the wire: no copy on a little-endian host)."""
    array = np.empty(shape, dtype="<f8")
    read_into(read, array.reshape(-1).view(np.uint8).data)
    return array.astype(np.float64, copy=False)


def read_message(read, max_bytes: int):
    """Read one message with `read(k) -> bytes`; arrays come back as float64 ndarrays.

    Raises ChannelError when the message is malformed in any way or its buffers exceed
    max_bytes; EOFError when the peer closed the channel."""
    (length,) = HEADER.unpack(read_exactly(read, HEADER.size))
    if length > MAX_HEADER_BYTES:
        raise ChannelError(f"message header of {length} bytes is over the limit")
    header_bytes = read_exactly(read, length)
    try:
        header = _parse_header(header_bytes)
        shapes = _array_shapes(header, max_bytes)
        sizes = [8 * math.prod(shape) for shape in shapes]      # Python ints: no overflow
        if sum(sizes) > max_bytes:
            raise ChannelError(f"{sum(sizes)} bytes of arrays, over the limit of {max_bytes}")
        arrays = [read_array(read, shape) for shape in shapes]
        return _restore(header, arrays)
    except RecursionError:
        raise ChannelError("message header is nested too deeply") from None


def _small_integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise ChannelError(f"message header holds an integer of {len(text.lstrip('-'))} digits")
    return int(text)


def _parse_header(header_bytes: bytes):
    """The header's JSON, with no integer longer than MAX_INTEGER_DIGITS."""
    try:
        return json.loads(header_bytes, parse_int=_small_integer)
    except ValueError as error:             # not UTF-8, not JSON
        raise ChannelError(f"message header is not JSON: {error}") from None


def _array_shapes(header, max_bytes: int) -> list[tuple[int, ...]]:
    """The shape of each {"$array": i, "shape": [...]} in the header, in order of i; a
    ChannelError for a shape numpy could not hold or that could not fit in max_bytes."""
    shapes: list[tuple[int, ...]] = []
    stack = [header]                        # iterative: the nesting is the peer's choice
    while stack:
        value = stack.pop()
        if isinstance(value, dict) and "$array" in value:
            shape = value.get("shape")
            if not (isinstance(shape, list) and all(type(n) is int and n >= 0 for n in shape)):
                raise ChannelError("array with a malformed shape")
            if len(shape) > MAX_DIMENSIONS:
                raise ChannelError(f"array of {len(shape)} dimensions, more than {MAX_DIMENSIONS}")
            if 0 in shape and math.prod(n or 1 for n in shape) > max_bytes // 8:     # else numpy refuses it
                raise ChannelError(f"empty array with a dimension of {max(shape)}, over the limit of {max_bytes // 8}")
            if type(value["$array"]) is not int or value["$array"] != len(shapes):
                raise ChannelError("array references out of order")
            shapes.append(tuple(shape))
        elif isinstance(value, (dict, list)):
            stack.extend(reversed(list(value.values() if isinstance(value, dict) else value)))
    return shapes


def _restore(value, arrays: list[np.ndarray]):
    """The header with each {"$array": i, ...} replaced by arrays[i]."""
    if isinstance(value, dict):
        if "$array" in value:
            return arrays[value["$array"]]
        return {k: _restore(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore(v, arrays) for v in value]
    return value
