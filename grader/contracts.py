"""Submission contracts: which functions a submission defines, what they receive, what
they return. One registry entry per contract; a problem set chooses one
(`contract: trace | cs231n | coursera | min-char-rnn`, default trace).

A contract has a Call per kind of problem it grades: "scalar" (the seed's model),
"sequence" (a vector problem) and "step" (a vector problem with `step: true` and T = 1,
graded through single-step functions). A Call names the submission's functions, builds
their arguments from the reference's values, and says for each output they return which
reference value it is and how the submission lays it out. The child process knows only
the call styles (grader/submission_calls.py): "trace", `backward(trace) -> mapping`, and
"forward_backward", `forward(*arguments[:-1]) -> (*forward_returns, cache)` then
`backward(arguments[-1], cache) -> backward_returns` (a tuple in that order, or a mapping
when backward_returns is None). The cache stays in the child; only arrays come back.

Reference values are batch-first (reference.vector): x (N, T, D), h (N, T+1, H), h_t
(N, T, H) without h_0, dh_direct (N, T, H) the upstream gradient ∂L/∂h_t through step t's
own output, and the gradients dL_ds, dL_dWx, … .
"""
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from grader.problem_set import Problem
from reference import scalar, vector
from reference.step_product import as_float64

SCALAR_TRACE = ("x", "y", "w", "v", "h0", "s", "h", "y_hat", "T", "phi", "theta", "loss")


@dataclass(frozen=True)
class Layout:
    """How a submission holds an array the reference holds batch-first, and back. SAME keeps
    a StepProduct (reference.step_product) as it is; numpy makes it whole for the others."""
    to_submission: Callable[[Any], Any]
    to_reference: Callable[[np.ndarray], np.ndarray]


SAME = Layout(lambda a: a, lambda a: a)
TRANSPOSED = Layout(np.transpose, np.transpose)                                  # (D, H) ↔ (H, D)
COLUMN = Layout(lambda a: a.reshape(-1, 1), lambda a: a.reshape(-1))              # (H,) ↔ (H, 1)
FEATURES_FIRST = Layout(lambda a: np.transpose(a, (2, 0, 1)),                    # (N, T, D) ↔ (D, N, T)
                        lambda a: np.transpose(a, (1, 2, 0)))
FIRST_STEP = Layout(lambda a: a[:, 0], lambda a: a[:, None])                      # (N, 1, D) ↔ (N, D)
FIRST_STEP_FEATURES_FIRST = Layout(lambda a: a[:, 0].T, lambda a: a.T[:, None])   # (N, 1, D) ↔ (D, N)


@dataclass(frozen=True)
class Output:
    """A returned array: the reference value it is, in the submission's layout, and its
    notation in the contract's own names (∂L/∂Waa for Coursera's dWaa)."""
    source: str
    symbol: str
    layout: Layout = SAME
    time_axis: int | None = None    # the axis of t in the submission's layout (per-step outputs)
    forward: bool = False           # a forward value: it first goes wrong in forward order (t = 1 up)


@dataclass(frozen=True)
class Call:
    functions: tuple[str, ...]                  # the submission's, in call order; () = the set's entry_point
    arguments: Callable[[dict], dict]           # reference values → the functions' arguments, in call order
    outputs: dict[str, Output]
    style: str = "trace"                        # a call style of grader/submission_calls.STYLES
    forward_returns: tuple[str, ...] = ()       # forward_backward: forward's results before the cache
    backward_returns: tuple[str, ...] | None = None   # … and backward's, in order; None: a mapping
    dx: str | None = None                       # the output holding ∂L/∂x_t, to derive ∂L/∂s_t from (Exercise.dx)
    upstream: str | None = None                 # the argument holding the upstream gradient ∂L/∂h_t|direct
    ruled_out: tuple[str, ...] = ()             # catalogue mistakes the call cannot show (no batch: N = 1)

    def how(self, functions: tuple[str, ...]) -> dict:
        """What the child needs to make the call (sent with every request)."""
        return {"style": self.style, "functions": list(functions), "forward_returns": list(self.forward_returns),
                "backward_returns": None if self.backward_returns is None else list(self.backward_returns),
                "upstream": self.upstream}


@dataclass(frozen=True)
class Contract:
    name: str
    calls: dict[str, Call]                      # problem kind → call
    # (pattern, replacement) rewriting the reference's notation (Wh, h_{t−1}, …) into the
    # contract's own, applied in order to what a diagnosis says; () where they are the same
    notation: tuple[tuple[str, str], ...] = ()

    def in_notation(self, text: str) -> str:
        for pattern, replacement in self.notation:
            text = re.sub(pattern, replacement, text)
        return text


CONTRACTS: dict[str, Contract] = {}


def register(contract: Contract) -> Contract:
    CONTRACTS[contract.name] = contract
    return contract


def _vector_trace(v: dict) -> dict:
    """The forward pass a vector `backward(trace)` sees; never a gradient."""
    keys = ["x", "h0", "Wx", "Wh", "b", "s", "h", "T", "N", "D", "H", "phi", "loss"]
    keys += ["dh"] if v["loss"] == vector.UPSTREAM else ["y", "Wy", "by", "y_hat", "O", "theta"]
    return {key: v[key] for key in keys}


def _coursera_parameters(v: dict) -> dict:
    parameters = {"Wax": v["Wx"].T, "Waa": v["Wh"].T, "ba": v["b"].reshape(-1, 1)}
    if v["Wy"] is not None:
        parameters.update(Wya=v["Wy"].T, by=v["by"].reshape(-1, 1))
    return parameters


register(Contract("trace", {
    "scalar": Call((), lambda v: {key: v[key] for key in SCALAR_TRACE}, {
        name: Output(name, scalar.SYMBOLS[name], time_axis=0 if shape(1) else None)
        for name, shape in scalar.GRADIENT_SHAPES.items()}, dx="dL_dx"),
    "sequence": Call((), _vector_trace, {
        name: Output(name, vector.SYMBOLS[name], time_axis=1 if name in vector.PER_STEP else None)
        for name in vector.GRADIENT_SHAPES}, dx="dL_dx"),
}))

register(Contract("cs231n", {
    "sequence": Call(
        ("rnn_forward", "rnn_backward"),
        lambda v: {"x": v["x"], "h0": v["h0"], "Wx": v["Wx"], "Wh": v["Wh"], "b": v["b"], "dh": v["dh_direct"]},
        {"h": Output("h_t", "h_t", time_axis=1, forward=True),
         "dx": Output("dL_dx", "∂L/∂x_t", time_axis=1),
         "dh0": Output("dL_dh0", "∂L/∂h_0"),
         "dWx": Output("dL_dWx", "∂L/∂Wx"),
         "dWh": Output("dL_dWh", "∂L/∂Wh"),
         "db": Output("dL_db", "∂L/∂b")},
        "forward_backward", ("h",), ("dx", "dh0", "dWx", "dWh", "db"), dx="dx", upstream="dh"),
    "step": Call(
        ("rnn_step_forward", "rnn_step_backward"),
        lambda v: {"x": v["x"][:, 0], "prev_h": v["h0"], "Wx": v["Wx"], "Wh": v["Wh"], "b": v["b"],
                   "dnext_h": v["dh_direct"][:, 0]},
        {"next_h": Output("h_t", "h_1", FIRST_STEP, forward=True),
         "dx": Output("dL_dx", "∂L/∂x_t", FIRST_STEP),
         "dprev_h": Output("dL_dh0", "∂L/∂h_0"),
         "dWx": Output("dL_dWx", "∂L/∂Wx"),
         "dWh": Output("dL_dWh", "∂L/∂Wh"),
         "db": Output("dL_db", "∂L/∂b")},
        "forward_backward", ("next_h",), ("dx", "dprev_h", "dWx", "dWh", "db"), upstream="dnext_h"),
}))

register(Contract("coursera", {
    "sequence": Call(
        ("rnn_forward", "rnn_backward"),
        lambda v: {"x": FEATURES_FIRST.to_submission(v["x"]), "a0": v["h0"].T, "parameters": _coursera_parameters(v),
                   "da": FEATURES_FIRST.to_submission(v["dh_direct"])},
        {"a": Output("h_t", "a⟨t⟩", FEATURES_FIRST, time_axis=2, forward=True),
         "y_pred": Output("y_pred", "ŷ⟨t⟩", FEATURES_FIRST, time_axis=2, forward=True),
         "dx": Output("dL_dx", "∂L/∂x_t", FEATURES_FIRST, time_axis=2),
         "da0": Output("dL_dh0", "∂L/∂a⟨0⟩", TRANSPOSED),
         "dWax": Output("dL_dWx", "∂L/∂Wax", TRANSPOSED),
         "dWaa": Output("dL_dWh", "∂L/∂Waa", TRANSPOSED),
         "dba": Output("dL_db", "∂L/∂ba", COLUMN)},
        "forward_backward", ("a", "y_pred"), None, dx="dx", upstream="da"),
    "step": Call(
        ("rnn_cell_forward", "rnn_cell_backward"),
        lambda v: {"xt": v["x"][:, 0].T, "a_prev": v["h0"].T, "parameters": _coursera_parameters(v),
                   "da_next": v["dh_direct"][:, 0].T},
        {"a_next": Output("h_t", "a⟨1⟩", FIRST_STEP_FEATURES_FIRST, forward=True),
         "yt_pred": Output("y_pred", "ŷ⟨1⟩", FIRST_STEP_FEATURES_FIRST, forward=True),
         "dxt": Output("dL_dx", "∂L/∂x⟨1⟩", FIRST_STEP_FEATURES_FIRST),
         "da_prev": Output("dL_dh0", "∂L/∂a⟨0⟩", TRANSPOSED),
         "dWax": Output("dL_dWx", "∂L/∂Wax", TRANSPOSED),
         "dWaa": Output("dL_dWh", "∂L/∂Waa", TRANSPOSED),
         "dba": Output("dL_db", "∂L/∂ba", COLUMN)},
        "forward_backward", ("a_next", "yt_pred"), None, upstream="da_next"),
}, notation=(
    # a⟨t⟩ = tanh(Wax·x⟨t⟩ + Waa·a⟨t−1⟩ + ba) is s_t = x_t·Wx + h_{t−1}·Wh + b with Wax = Wxᵀ,
    # Waa = Whᵀ: the gradients keep their names, the row-vector formulas take the transposes
    (r"∂L/∂Wh\b", "∂L/∂Waa"), (r"∂L/∂Wx\b", "∂L/∂Wax"), (r"∂L/∂b\b", "∂L/∂ba"),
    (r"\b(W[hx])(?= is\b| multiplies\b)", r"\1ᵀ"),       # a matrix named in words: Waa, not Waaᵀ
    (r"\bWhᵀ", "Waa"), (r"\bWh\b", "Waaᵀ"), (r"\bWxᵀ", "Wax"), (r"\bWx\b", "Waxᵀ"), (r"\bb\b", "ba"),
    (r"\bdh(?=_)", "da"), (r"(?<![A-Za-z])(da|[hsx])_\{([^}]*)\}", r"\1⟨\2⟩"),
    (r"(?<![A-Za-z])(da|[hsx])_(\w)(?![A-Za-z0-9_])", r"\1⟨\2⟩"),
    (r"(?<![A-Za-z])h⟨", "a⟨"))))


CHAR_RNN_RETURNS = ("loss", "dWxh", "dWhh", "dWhy", "dbh", "dby", "h_last")
LAST_STATE = Layout(lambda a: a[0, -1].reshape(-1, 1), lambda a: a.reshape(1, 1, -1))   # (1, T, H) → h_T as (H, 1)


# min-char-rnn's arrays, column vectors: the reference value each is and its layout (Wxh (H, V) =
# Wxᵀ, Why (V, H) = Wyᵀ, bh (H, 1), hprev (H, 1) = h_0ᵀ); its five globals, then hprev
CHAR_RNN_ARRAYS = {"Wxh": ("Wx", TRANSPOSED), "Whh": ("Wh", TRANSPOSED), "Why": ("Wy", TRANSPOSED),
                   "bh": ("b", COLUMN), "by": ("by", COLUMN), "hprev": ("h0", TRANSPOSED)}


def _char_rnn_arguments(v: dict) -> dict:
    """min-char-rnn's module globals, then lossFun's arguments: the character indices of the
    one-hot x_t and y_t, and hprev."""
    arrays = {name: layout.to_submission(v[source]) for name, (source, layout) in CHAR_RNN_ARRAYS.items()}
    hprev = arrays.pop("hprev")
    return {**arrays, "inputs": v["x"][0].argmax(axis=1), "targets": v["y"][0].argmax(axis=1), "hprev": hprev}


# Karpathy's min-char-rnn: lossFun(inputs, targets, hprev) over the globals Wxh, Whh, Why, bh, by,
# h_t = tanh(Wxh·x_t + Whh·h_{t−1} + bh), p_t = softmax(Why·h_t + by), loss = −Σ_t log p_t[target_t]:
# the vector RNN with N = 1, one-hot x_t (D = V), an output layer over O = V classes and the
# softmax cross-entropy; its column vectors are the transposes of the reference's rows.
register(Contract("min-char-rnn", {
    "sequence": Call(
        ("lossFun",), _char_rnn_arguments,
        {"loss": Output("L", "L", forward=True),
         "dWxh": Output("dL_dWx", "∂L/∂Wxh", TRANSPOSED),
         "dWhh": Output("dL_dWh", "∂L/∂Whh", TRANSPOSED),
         "dWhy": Output("dL_dWy", "∂L/∂Why", TRANSPOSED),
         "dbh": Output("dL_db", "∂L/∂bh", COLUMN),
         "dby": Output("dL_dby", "∂L/∂by", COLUMN),
         "h_last": Output("h_t", "h_T", LAST_STATE, forward=True)},
        "module_globals", backward_returns=CHAR_RNN_RETURNS, ruled_out=("db_batch_mean",)),
}, notation=(
    (r"∂L/∂Wh\b", "∂L/∂Whh"), (r"∂L/∂Wx\b", "∂L/∂Wxh"), (r"∂L/∂Wy\b", "∂L/∂Why"), (r"∂L/∂b\b", "∂L/∂bh"),
    (r"\b(W[hxy])(?= is\b| multiplies\b)", r"\1ᵀ"),
    (r"\bWhᵀ", "Whh"), (r"\bWh\b", "Whhᵀ"), (r"\bWxᵀ", "Wxh"), (r"\bWx\b", "Wxhᵀ"),
    (r"\bWyᵀ", "Why"), (r"\bWy\b", "Whyᵀ"), (r"\bb\b", "bh"))))


def vector_outputs() -> list[str]:
    """Every output some contract returns for a vector problem, in registry order."""
    names = {}
    for contract in CONTRACTS.values():
        for kind, call in contract.calls.items():
            if kind != "scalar":
                names.update(dict.fromkeys(call.outputs))
    return list(names)


def call_for(problem) -> Call:
    return CONTRACTS[problem.contract].calls[problem.kind]


def mistakes_of(problem) -> dict:
    """The catalogue mistakes a submission to `problem` can make, by id, in catalogue order:
    its model's, but those of the output layer where the call passes the upstream gradient,
    those that change only values the call does not return, and those it rules out."""
    call = call_for(problem)
    returned = {out.source for out in call.outputs.values()} | ({"dL_ds"} if call.dx else set())
    return {mistake_id: m for mistake_id, m in problem.model.mistakes.items()
            if not (call.upstream and m.in_output_layer) and returned & set(m.outputs)
            and mistake_id not in call.ruled_out}


def submission_functions(problem_set) -> list[str]:
    """Every function a submission to `problem_set` defines, sorted (the entry point for the trace contract)."""
    return sorted({name for problem in problem_set.problems
                   for name in call_for(problem).functions or (problem_set.entry_point,)})


def describe_functions(problem_set) -> str:
    """What a submission defines, for a person: "backward(trace)" or "rnn_backward, rnn_forward"."""
    if problem_set.contract == "trace":
        return f"{problem_set.entry_point}(trace)"
    return ", ".join(submission_functions(problem_set))


def functions_everywhere(problems, entry_point: str) -> list[str]:
    """The functions every one of `problems` calls: a submission without them can be
    graded on none, so their absence is an import error."""
    needed = [call_for(problem).functions or (entry_point,) for problem in problems]
    return [name for name in needed[0] if all(name in functions for functions in needed)] if needed else []


DERIVATION_VALUES = ("dL_ds", "dL_dx")  # and the model's input_map: what recovering ∂L/∂s_t reads (localization)
KEPT_STATE_NUMBERS = 1 << 17        # an exercise keeps every reference value up to this many numbers per state array
STATE_VALUES = ("s", "dL_dh")       # what Model.graded_values leaves out


def keeps_reference(problem) -> bool:
    """Whether an exercise of `problem` keeps every reference value (about ten arrays of
    its states' size): where its states hold at most KEPT_STATE_NUMBERS numbers, N·T·H
    (T for the scalar model)."""
    sizes = problem.dimensions
    return sizes.get("N", 1) * sizes["T"] * sizes.get("H", 1) <= KEPT_STATE_NUMBERS


@dataclass(frozen=True)
class Probe:
    """A probing call: the problem again with x widened by H features that are zero and Wx by
    the identity below it, x′ = [x | 0] (N, T, D + H) and Wx′ = [Wx; I_H] (D + H, H). Every
    state is the same (x′_t·Wx′ = x_t·Wx), and dx′_t = ∂L/∂s_t·Wx′ᵀ = [dx_t | ∂L/∂s_t]: its
    last H features are the submission's own ∂L/∂s_t, whatever D. Made where Wx has rank
    below H (dx shows only part of ∂L/∂s_t): grader/localization.py localizes ∂L/∂s_t from it,
    and grader/term_check.py checks the parameter gradients against it."""
    arguments: dict                         # the call's arguments, widened
    shapes: dict[str, tuple[int, ...]]      # the forward outputs requested, then dx′ (submission layout)
    features: int                           # D: dx′'s features before ∂L/∂s_t's


def probe(problem, call: Call, values: dict, forward: dict[str, tuple[int, ...]]) -> Probe | None:
    """The problem's probing call, or None where it needs none (or ∂L/∂s_t is not derived from
    dx here, or its model has no probing values); `forward` has the shapes of the forward
    outputs requested."""
    dx = dx_for_dL_ds(problem)
    if dx is None:
        return None
    widened = problem.model.probing_values(values)
    if widened is None:
        return None
    D = values["x"].shape[-1]
    shape = np.shape(call.outputs[dx].layout.to_submission(np.zeros_like(widened["x"])))
    return Probe(call.arguments(widened), {**forward, dx: shape}, D)


@dataclass(frozen=True)
class Exercise:
    """What one problem asks of a submission: the functions its call needs, their
    arguments, the outputs to request, and every output's expected value in the
    submission's layout. Computed once per problem, it grades any number of submissions.

    Beyond KEPT_STATE_NUMBERS (keeps_reference), it keeps only what scoring reads for every
    submission: the forward pass's other values and the other gradients (several times the
    problem's arrays) are computed again, by `reference()`, where a wrong output is looked
    into, and the problem's inputs are drawn again for each call (`arguments`)."""
    problem: Problem
    functions: tuple[str, ...]
    requested: list[str]                    # the graded outputs, and dx where ∂L/∂s_t is derived from it (dx_for_dL_ds)
    expected: dict[str, np.ndarray]         # a StepProduct (reference.step_product) for CS231n's dx when large
    derivation: dict = field(repr=False)    # DERIVATION_VALUES and "input_map" where ∂L/∂s_t comes from dx, else {}
    probe: Probe | None = None              # its probing call, where it has one
    kept: tuple[Any, dict] | None = field(default=None, repr=False)     # reference_values, where small
    # the reference values the call's arguments are built from; beyond KEPT_STATE_NUMBERS, all but
    # the problem's inputs, which `inputs` names: value name → 0 for x, 1 for the target
    known: dict = field(default_factory=dict, repr=False)
    inputs: dict[str, int] = field(default_factory=dict, repr=False)

    @property
    def call(self) -> Call:
        return call_for(self.problem)

    @property
    def dx(self) -> str | None:
        """The output ∂L/∂s_t is derived from here (dx_for_dL_ds)."""
        return dx_for_dL_ds(self.problem)

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        """The requested outputs' shapes in the submission's layout."""
        return {name: np.shape(self.expected[name]) for name in self.requested}

    def arguments(self) -> dict:
        """The call's arguments, made anew (with the problem's inputs, drawn again where they
        are not kept): nothing holds them once the caller lets them go."""
        if not self.inputs:
            return self.call.arguments(self.known)
        drawn = self.problem.data.arrays()                  # x and target, drawn once
        return self.call.arguments({**self.known, **{name: drawn[i] for name, i in self.inputs.items()}})

    def reference(self) -> tuple[Any, dict]:
        """`reference_values` of its problem: kept, or computed again (the same values)."""
        return self.kept or reference_values(self.problem)

    def forward(self) -> Any:
        """The problem's forward pass: kept, or computed again."""
        return self.kept[0] if self.kept else self.problem.forward()


def reference_values(problem) -> tuple[Any, dict]:
    """The problem's forward pass (its model's) and every reference value (Model.values)."""
    f = problem.forward()
    return f, problem.model.values(problem.rnn, f)


def exercise(problem, entry_point: str) -> Exercise:
    """The problem's exercise. Beyond KEPT_STATE_NUMBERS its reference values are the model's
    graded values (Model.graded_values: in less memory) where the call needs neither s nor
    ∂L/∂h_t (a trace shows the forward pass), and its inputs are not kept."""
    call = call_for(problem)
    keep = keeps_reference(problem)
    f = problem.forward()
    graded = not keep and call.style != "trace" and all(out.source not in STATE_VALUES for out in call.outputs.values())
    values = (problem.model.graded_values if graded else problem.model.values)(problem.rnn, f)
    expected = {name: out.layout.to_submission(as_float64(values[out.source]))
                for name, out in call.outputs.items() if values.get(out.source) is not None}
    dx = dx_for_dL_ds(problem)
    requested = list(problem.grade) + [name for name in [dx] if name and name not in problem.grade]
    forward = {name: np.shape(expected[name]) for name in requested if call.outputs[name].forward}
    derivation = {"input_map": problem.model.input_map(values), **{name: values[name] for name in DERIVATION_VALUES}} \
        if dx else {}
    given = problem.model.inputs(f)
    inputs = {} if keep else {name: i for name, value in values.items() for i, array in enumerate(given)
                              if value is array}
    return Exercise(problem, call.functions or (entry_point,), requested, expected, derivation,
                    probe(problem, call, values, forward), (f, values) if keep else None,
                    {name: value for name, value in values.items() if name not in inputs}, inputs)


def dx_for_dL_ds(problem) -> str | None:
    """The output the submission's ∂L/∂s_t is derived from on `problem`: its call's dx, where
    no graded output holds ∂L/∂s_t; where the call could return ∂L/∂s_t (a trace mapping holds
    what its problem grades), only a graded dx."""
    call, graded = call_for(problem), problem.grade
    if call.dx is None or any(call.outputs[name].source == "dL_ds" for name in graded):
        return None
    could_return = any(out.source == "dL_ds" for out in call.outputs.values())
    return None if could_return and call.dx not in graded else call.dx
