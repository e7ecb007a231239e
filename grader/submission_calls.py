"""How the child process calls a submission's functions: one entry per call style,
`STYLES[style](functions, arguments, how) -> mapping of output name → returned value`.

`functions` are the submission's, in call order; `arguments` arrive in call order;
`how` is grader.contracts.Call.how(). The submission's own objects (CS231n's cache,
Coursera's caches) stay in this process: only the mapping's arrays are sent back. Each
call runs its own forward, so each backward gets a cache of its own.

A backward that changed its cache (a hash of its pickle differs after the call) is kept in
CHANGED_CACHE, and `second_call` (a request of its own, after the first call's result has
gone back) calls it again on that same cache: a backward that consumes its cache
(`cache.pop()`) then raises or returns other gradients, and is told so.

Loaded by file path inside the submission's process (grader/child.py), with the grader
package unimportable: it may import only the standard library and numpy.
"""
import collections
import copy
import pickle
import types

import numpy as np


class ContractViolation(Exception):
    """A function returned something its contract does not allow; the message is a
    sentence for the report, starting with "returned"."""


def read_only(arguments: dict) -> types.MappingProxyType:
    """The arguments as a read-only mapping of read-only arrays: a trace is not the submission's to change."""
    for value in arguments.values():
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
    return types.MappingProxyType(arguments)


def call_trace(functions, arguments, how):
    (backward,) = functions
    return backward(read_only(arguments))


def _results(returned, function: str, names) -> tuple:
    """`returned` as a tuple of len(names) values, or a ContractViolation naming them."""
    if not isinstance(returned, (tuple, list)):
        raise ContractViolation(f"returned a {type(returned).__name__} from {function}, "
                                f"not the tuple ({', '.join(names)})")
    if len(returned) != len(names):
        raise ContractViolation(f"returned {len(returned)} values from {function}, "
                                f"not the {len(names)} of ({', '.join(names)})")
    return tuple(returned)


# this request's forward_backward call, when its backward changed its cache (the child empties
# it before each call): backward, upstream, the cache as that call left it, and a copy of
# what it returned (None where it cannot be copied)
CHANGED_CACHE: dict = {}


class _Hashing:
    """A file that keeps only a running hash of what is written to it: a cache's pickle,
    however large its arrays, takes no memory of its own."""

    def __init__(self) -> None:
        import hashlib  # here: only calls that pass a cache pay for it (_hashlib loads OpenSSL)
        self.hash = hashlib.blake2b()

    def write(self, data) -> int:
        self.hash.update(data)
        return len(memoryview(data))


def _pickled(value) -> bytes | None:
    """A hash of `value`'s pickle, or None where it has none (a generator, a lambda): then
    whether backward changes it is not checked."""
    file = _Hashing()
    try:
        pickle.Pickler(file, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    except Exception:  # the student's object may raise anything
        return None
    return file.hash.digest()


def _copied(value):
    try:
        return copy.deepcopy(value)
    except Exception:  # the student's object may raise anything
        return None


def call_forward_backward(functions, arguments, how):
    (forward, backward), (forward_name, backward_name) = functions, how["functions"]
    *forward_arguments, upstream = arguments.values()
    *outputs, cache = _results(forward(*forward_arguments), forward_name, [*how["forward_returns"], "cache"])
    forwarded = dict(zip(how["forward_returns"], outputs, strict=True))
    before, given = _pickled(cache), np.array(upstream)      # the upstream as given, whatever backward does to it
    gradients = backward(upstream, cache)
    if before is not None and _pickled(cache) != before:
        CHANGED_CACHE.update(backward=backward, upstream=given, cache=cache, returned=_copied(gradients))
    if how["backward_returns"] is not None:
        gradients = _results(gradients, backward_name, how["backward_returns"])
        return {**forwarded, **dict(zip(how["backward_returns"], gradients, strict=True))}
    if not (hasattr(gradients, "keys") and hasattr(gradients, "__getitem__")):
        raise ContractViolation(f"returned a {type(gradients).__name__} from {backward_name}, not a dict of gradients")
    return collections.ChainMap(forwarded, gradients)


def _same(first, second) -> bool:
    """Whether two returns of backward hold the same numbers (a tuple, or a mapping by key)."""
    try:
        if hasattr(first, "keys"):
            keys = list(first.keys())
            return list(second.keys()) == keys and _same([first[k] for k in keys], [second[k] for k in keys])
        return len(first) == len(second) and all(
            np.array_equal(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), equal_nan=True)
            for a, b in zip(first, second, strict=True))
    except Exception:  # the student's objects may raise anything
        return False


def second_call() -> str | None:
    """What calling the backward of CHANGED_CACHE again on the cache it changed does, when
    that is not what its first call did: "raised IndexError: pop from empty list" or
    "returned other gradients"; None when it did the same (or no call changed its cache)."""
    if not CHANGED_CACHE:
        return None
    kept = dict(CHANGED_CACHE)
    CHANGED_CACHE.clear()
    try:
        again = kept["backward"](kept["upstream"], kept["cache"])
    except Exception as error:
        return f"raised {type(error).__name__}: {str(error)[:200]}"
    return None if kept["returned"] is None or _same(kept["returned"], again) else "returned other gradients"


def call_module_globals(functions, arguments, how):
    """min-char-rnn: every argument but the last three becomes a global of the function's
    module (a writable copy), then `function(inputs, targets, hprev)` with the character
    indices as lists of ints."""
    (function,), (name,) = functions, how["functions"]
    *parameters, inputs, targets, hprev = arguments
    function.__globals__.update({key: np.array(arguments[key]) for key in parameters})
    returned = function([int(i) for i in arguments[inputs]], [int(i) for i in arguments[targets]],
                        np.array(arguments[hprev]))
    return dict(zip(how["backward_returns"], _results(returned, name, how["backward_returns"]), strict=True))


STYLES = {"trace": call_trace, "forward_backward": call_forward_backward, "module_globals": call_module_globals}
