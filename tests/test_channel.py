"""The result channel: what a hostile child can put on it is refused with a reason."""
import contextlib
import io
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.channel import HEADER, ChannelError, encode, read_message
from grader.problem_set import Limits
from grader.runner import SubmissionProcess


def reader(data: bytes):
    return io.BytesIO(data).read


def raw_message(header, buffers: bytes = b"") -> bytes:
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    return HEADER.pack(len(text)) + text + buffers


def test_arrays_and_plain_values_round_trip_as_float64():
    message = read_message(reader(encode({"a": np.arange(6.0).reshape(2, 3), "b": [1, "x", None]})), 1 << 20)
    assert message["a"].dtype == np.float64 and message["a"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert message["b"] == [1, "x", None]


def test_an_integer_array_travels_as_float64():
    assert read_message(reader(encode({"a": np.array([1, 2])})), 1 << 20)["a"].dtype == np.float64


@pytest.mark.parametrize("data, reason", [
    (HEADER.pack(2**64 - 1), "message header of 18446744073709551615 bytes is over the limit"),
    (raw_message(b"{not json"), "message header is not JSON"),
    (raw_message(b"[" * 100_000 + b"]" * 100_000), "message header is nested too deeply"),
    (raw_message({"a": {"$array": 0, "shape": [-1]}}), "array with a malformed shape"),
    (raw_message({"a": {"$array": 0, "shape": [2.0]}}), "array with a malformed shape"),
    (raw_message({"a": {"$array": 1, "shape": [2]}}), "array references out of order"),
    (raw_message({"a": {"$array": True, "shape": [2]}}), "array references out of order"),
    (raw_message({"a": {"$array": 0, "shape": [2**62, 2**62]}}), "bytes of arrays, over the limit of 1024"),
    (raw_message({"a": {"$array": 0, "shape": [200]}}), "1600 bytes of arrays, over the limit of 1024"),
    (raw_message(b'{"n": ' + b"7" * 5000 + b"}"), "message header holds an integer of 5000 digits"),
    (raw_message({"a": {"$array": 0, "shape": [1] * 65}}, bytes(8)), "array of 65 dimensions, more than 32"),
    (raw_message({"a": {"$array": 0, "shape": [0, 2**64]}}),
     "empty array with a dimension of 18446744073709551616, over the limit of 128"),
    (raw_message({"a": {"$array": 0, "shape": [0, 2**62, 2**62]}}),
     "empty array with a dimension of 4611686018427387904, over the limit of 128"),
    (raw_message(b'{"a": "\xff"}'), "message header is not JSON"),
])
def test_a_malformed_or_oversized_message_is_refused(data, reason):
    with pytest.raises(ChannelError, match=reason.replace("(", r"\(")):
        read_message(reader(data), max_bytes=1024)


def test_a_message_cut_short_is_the_end_of_the_channel():
    with pytest.raises(EOFError):
        read_message(reader(encode({"a": np.zeros(4)})[:-1]), 1 << 20)


FRAME_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["$array", "shape", "type", "x"]),
                                                                  inner, max_size=4),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(header=FRAME_VALUES, buffers=st.binary(max_size=64))
def test_any_header_is_a_message_or_a_channel_error(header, buffers):
    """Whatever JSON a peer sends (arrays of any shape, numbers of any size), the reader
    returns a message or raises ChannelError (EOFError when the buffers run out): nothing else."""
    with contextlib.suppress(ChannelError, EOFError):
        read_message(reader(raw_message(json.dumps(header).encode(), buffers)), max_bytes=1024)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=200))
def test_any_bytes_are_a_message_or_a_channel_error(data):
    with contextlib.suppress(ChannelError, EOFError):
        read_message(reader(HEADER.pack(len(data)) + data), max_bytes=1024)


MESSAGE_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.just("\ud800")
    | st.builds(np.zeros, st.integers(0, 3)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12)
MESSAGES = st.fixed_dictionaries(
    {"type": st.sampled_from(["result", "error", "bad_return", "no_entry_point", "ready", "started", "other"])},
    optional={key: MESSAGE_VALUES for key in ("outputs", "problems", "kind", "message", "traceback", "name",
                                               "blocked_imports")}) | MESSAGE_VALUES


@settings(max_examples=300, deadline=None)
@given(message=MESSAGES, stage=st.sampled_from(["start", "import", "call"]))
def test_any_decoded_message_is_an_outcome_in_valid_unicode_or_unusable(message, stage):
    """What the runner makes of a message: an outcome whose texts encode as UTF-8, or None
    ("sent an unusable result"); never an exception."""
    process = object.__new__(SubmissionProcess)
    process.limits = Limits()
    outcome = process._outcome(message, stage)
    if outcome is not None:
        texts = [outcome.reason or "", outcome.traceback, *outcome.unusable.values(), *outcome.blocked_imports]
        "".join(texts).encode("utf-8")
