"""How the child process calls a submission's functions: one entry per call style,
`STYLES[style](functions, arguments, how) -> mapping of output name → returned value`.

`functions` are the submission's, in call order; `arguments` arrive in call order;
`how` is grader.contracts.Call.how(). The submission's own objects (CS231n's cache,
Coursera's caches) stay in this process: only the mapping's arrays are sent back.

Loaded by file path inside the submission's process (grader/child.py), with the grader
package unimportable: it may import only the standard library and numpy.
"""
import collections
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


def call_forward_backward(functions, arguments, how):
    (forward, backward), (forward_name, backward_name) = functions, how["functions"]
    *forward_arguments, upstream = arguments.values()
    *outputs, cache = _results(forward(*forward_arguments), forward_name, [*how["forward_returns"], "cache"])
    forwarded = dict(zip(how["forward_returns"], outputs, strict=True))
    gradients = backward(upstream, cache)
    if how["backward_returns"] is not None:
        gradients = _results(gradients, backward_name, how["backward_returns"])
        return {**forwarded, **dict(zip(how["backward_returns"], gradients, strict=True))}
    if not (hasattr(gradients, "keys") and hasattr(gradients, "__getitem__")):
        raise ContractViolation(f"returned a {type(gradients).__name__} from {backward_name}, not a dict of gradients")
    return collections.ChainMap(forwarded, gradients)


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
