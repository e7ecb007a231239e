"""The models the grader grades, behind one interface.

A `Model` is everything the grading pipeline needs of one RNN family: how to build its
network and run its forward pass, its correct BPTT, the names and shapes of its gradients
and their notation, its catalogue of classic mistakes, and its finite-difference check.
Two implement it, one registry entry each:

- "scalar": the seed's RNN (reference.scalar, reference.finite_diff, reference.mistakes),
  kept as the readable teaching reference and the fast path of long sequences;
- "vector": the batched RNN s_t = x_t·Wx + h_{t−1}·Wh + b (reference.vector,
  reference.vector_finite_diff, reference.vector_mistakes).

Everything else (grader/) goes through this interface: no branch on the model outside it.
The finite-difference checks are imported when a check runs: grading never needs them.
"""
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from reference import scalar, step_sums, vector
from reference.fd_methods import Estimate
from reference.mistakes import MISTAKES, Mistake
from reference.vector_mistakes import VECTOR_MISTAKES

ELEMENTWISE_RUNS = 5000     # a vector check perturbs every element up to this many runs, else samples directions


@dataclass(frozen=True)
class Checked:
    """One gradient against its finite-difference estimate: `reference` as the estimate
    measures it (the gradient itself, or its derivatives along the estimate's directions),
    shaped like `estimate.value`."""
    reference: np.ndarray
    estimate: Estimate


@dataclass(frozen=True)
class InputMap:
    """∂L/∂x_t = ∂L/∂s_t·Wxᵀ at each step (and batch row): `Wx` (D, H), and how ∂L/∂s_t is
    recovered from ∂L/∂x_t where Wx has full column rank, in the model's notation."""
    Wx: np.ndarray
    recovery: str


class Model(Protocol):
    name: str                               # the registry key
    mistakes: dict[str, Mistake]            # its catalogue, in catalogue order
    symbols: dict[str, str]                 # a reference value's name → its notation (∂L/∂s_t)
    samples_directions: bool                # whether its check may sample random directions (`directions`)
    term_sums: dict[str, step_sums.Sum]     # a parameter gradient's name → the sum over steps it is

    def network(self, phi: str, theta: str | None, loss: str) -> Any:
        """The network (activations and loss) from the registries' names."""

    def forward(self, rnn, params, x: np.ndarray, target: np.ndarray) -> Any:
        """The forward pass with every intermediate value."""

    def backward(self, rnn, f) -> dict[str, np.ndarray]:
        """Every gradient of the correct BPTT, by name."""

    def local_term(self, rnn, upstream_given: bool) -> str:
        """What enters ∂L/∂s_T at t = T besides the boundary, in the model's notation and
        with the network's own loss: no ŷ or θ where the loss is an upstream gradient, or
        where the submission is given the upstream gradient (`upstream_given`)."""

    def values(self, rnn, f) -> dict[str, Any]:
        """Everything the reference knows about forward pass `f` by name: inputs, forward
        values, sizes, the registries' names and every gradient (grader.contracts builds the
        submission's arguments and expected outputs from these)."""

    def inputs(self, f) -> tuple[np.ndarray, np.ndarray]:
        """The problem's inputs in forward pass `f`, (x, target), the arrays `forward` was given
        (where float64): the values of `values` that are these very arrays are the inputs'."""

    def graded_values(self, rnn, f) -> dict[str, Any]:
        """`values` but s and ∂L/∂h_t (only a trace of the forward pass shows them), in less
        memory: it may write over the arrays of `f`, which it spends (for a forward pass
        nothing else holds)."""

    def batched(self, per_step: np.ndarray) -> np.ndarray:
        """A per-step value shaped as the model holds it (dL_ds, dL_dx, x, h) batch-first
        with its features last, (N, T, K) (the scalar model's (T,) as (1, T, 1))."""

    def unbatched(self, batched: np.ndarray) -> np.ndarray:
        """`batched`'s inverse, for any number of steps: (N, T′, K) as the model holds a per-step value."""

    def input_map(self, values: dict) -> InputMap:
        """How ∂L/∂x_t comes from ∂L/∂s_t, from the reference values (Model.values)."""

    def probing_values(self, values: dict) -> dict | None:
        """The reference values of a probing call (grader.contracts.Probe): x widened by H zero
        features and Wx by the identity below it; None where Wx has full column rank (dx shows
        all of ∂L/∂s_t) or the model has none (the scalar model's x_t and v are numbers)."""

    def term_alternatives(self, f, ds: np.ndarray) -> dict[str, step_sums.TermAlternatives]:
        """Each gradient of `term_sums` built from a submission's ∂L/∂s_t `ds` (shaped as
        the model's dL_ds) by the correct sum, and with each one term changed, shaped as the
        gradient (reference.step_sums)."""

    def directions(self, f, requested: int | None) -> int | None:
        """Random directions per step and parameter for a finite-difference check (None:
        element by element); `requested` as `check-reference --directions` gives it."""

    def gradient_check(self, rnn, f, method: str, directions: int | None) -> dict[str, Checked]:
        """Every gradient against finite differences by `method` (reference.finite_diff.METHODS)."""


MODELS: dict[str, Model] = {}


def register(model: Model) -> Model:
    MODELS[model.name] = model
    return model


class ScalarModel:
    name = "scalar"
    mistakes = MISTAKES
    symbols = scalar.SYMBOLS
    samples_directions = False
    term_sums: dict[str, step_sums.Sum] = {"dL_dw": "recurrent", "dL_dv": "input", "dL_dh0": "initial_state"}

    def network(self, phi: str, theta: str | None, loss: str) -> scalar.ScalarRNN:
        return scalar.ScalarRNN.named(phi, theta or "identity", loss)

    def forward(self, rnn: scalar.ScalarRNN, params: scalar.Params, x, target) -> scalar.Forward:
        return scalar.forward(rnn, params.w, params.v, params.h0, x, target)

    def backward(self, rnn: scalar.ScalarRNN, f: scalar.Forward) -> dict[str, np.ndarray]:
        return {name: np.asarray(value) for name, value in scalar.backward(rnn, f).items()}

    def local_term(self, rnn: scalar.ScalarRNN, upstream_given: bool) -> str:
        return "∂L/∂ŷ_T·θ'(h_T)·φ'(s_T)"

    def values(self, rnn: scalar.ScalarRNN, f: scalar.Forward) -> dict[str, Any]:
        trace = {"x": f.x, "y": f.y, "w": f.w, "v": f.v, "h0": f.h0, "s": f.s, "h": f.h, "y_hat": f.y_hat,
                 "T": len(f.x), "phi": rnn.phi.name, "theta": rnn.theta.name, "loss": rnn.loss.name}
        return {**trace, **scalar.backward(rnn, f)}

    def inputs(self, f: scalar.Forward) -> tuple[np.ndarray, np.ndarray]:
        return f.x, f.y

    def graded_values(self, rnn: scalar.ScalarRNN, f: scalar.Forward) -> dict[str, Any]:
        return self.values(rnn, f)          # (T,) arrays: nothing to save

    def batched(self, per_step: np.ndarray) -> np.ndarray:
        return per_step[None, :, None]

    def unbatched(self, batched: np.ndarray) -> np.ndarray:
        return batched[0, :, 0]

    def input_map(self, values: dict) -> InputMap:
        return InputMap(np.array([[values["v"]]]), "as ∂L/∂x_t / v: ∂L/∂x_t = v·∂L/∂s_t and v ≠ 0")

    def probing_values(self, values: dict) -> None:
        return None

    def term_alternatives(self, f: scalar.Forward, ds: np.ndarray) -> dict[str, step_sums.TermAlternatives]:
        """The batched sums at N = D = H = 1, each a float64 scalar: ds (T,)."""
        sums = step_sums.term_alternatives(self.batched(f.h), self.batched(f.x), np.array([[f.w]]),
                                           self.batched(ds), self.term_sums)
        return {name: alternatives.reshaped(()) for name, alternatives in sums.items()}

    def directions(self, f: scalar.Forward, requested: int | None) -> int | None:
        return None

    def gradient_check(self, rnn: scalar.ScalarRNN, f: scalar.Forward, method: str,
                       directions: int | None) -> dict[str, Checked]:
        from reference import finite_diff
        reference = scalar.backward(rnn, f)
        estimates = finite_diff.finite_differences(rnn, f, tuple(finite_diff.QUANTITIES), method)
        return {name: Checked(estimates[name].along(reference[name]), estimates[name])
                for name in finite_diff.QUANTITIES}


class VectorModel:
    name = "vector"
    mistakes = VECTOR_MISTAKES
    symbols = vector.SYMBOLS
    samples_directions = True
    term_sums: dict[str, step_sums.Sum] = {"dL_dWh": "recurrent", "dL_dWx": "input", "dL_db": "bias",
                                           "dL_dh0": "initial_state"}

    def network(self, phi: str, theta: str | None, loss: str) -> vector.VectorRNN:
        return vector.VectorRNN.named(phi, loss, theta or "identity")

    def forward(self, rnn: vector.VectorRNN, params: vector.Params, x, target) -> vector.VectorForward:
        return vector.forward(rnn, params, x, target)

    def backward(self, rnn: vector.VectorRNN, f: vector.VectorForward) -> dict[str, np.ndarray]:
        return vector.backward(rnn, f)

    def local_term(self, rnn: vector.VectorRNN, upstream_given: bool) -> str:
        if rnn.upstream or upstream_given:
            return "dh_T ⊙ φ'(s_T) (dh_T: the upstream gradient at t = T)"
        return "(∂L/∂z_T·Wyᵀ) ⊙ φ'(s_T)"

    def values(self, rnn: vector.VectorRNN, f: vector.VectorForward) -> dict[str, Any]:
        return {**self._forward_values(rnn, f), "s": f.s, "dh_direct": vector.direct_dh(rnn, f),
                **vector.backward(rnn, f)}

    def inputs(self, f: vector.VectorForward) -> tuple[np.ndarray, np.ndarray]:
        return f.x, f.target

    def graded_values(self, rnn: vector.VectorRNN, f: vector.VectorForward) -> dict[str, Any]:
        return {**self._forward_values(rnn, f), **vector.backward_over_states(rnn, f)}

    def _forward_values(self, rnn: vector.VectorRNN, f: vector.VectorForward) -> dict[str, Any]:
        """The inputs, parameters, forward values (all but s), sizes and names of `values`."""
        p, z = f.params, f.sizes
        target = "dh" if rnn.upstream else "y"
        return {"x": f.x, "h0": p.h0, "Wx": p.Wx, "Wh": p.Wh, "b": p.b, "Wy": p.Wy, "by": p.by, target: f.target,
                "h": f.h, "h_t": f.h[:, 1:], "y_hat": f.y_hat, "y_pred": f.y_pred,
                "L": f.L, "T": z.T, "N": z.N, "D": z.D, "H": z.H, "O": z.O, "phi": rnn.phi.name,
                "theta": None if rnn.theta is None else rnn.theta.name,
                "loss": vector.UPSTREAM if rnn.loss is None else rnn.loss.name}

    def batched(self, per_step: np.ndarray) -> np.ndarray:
        return per_step

    def unbatched(self, batched: np.ndarray) -> np.ndarray:
        return batched

    def input_map(self, values: dict) -> InputMap:
        return InputMap(values["Wx"], "by least squares: dx_t = ∂L/∂s_t·Wxᵀ and Wx has full column rank")

    def probing_values(self, values: dict) -> dict | None:
        Wx, x = values["Wx"], values["x"]
        (N, T, D), H = x.shape, Wx.shape[1]
        if np.linalg.matrix_rank(Wx) == H:
            return None
        return {**values, "x": np.concatenate([x, np.zeros((N, T, H))], axis=2), "Wx": np.vstack([Wx, np.eye(H)]),
                "D": D + H}

    def term_alternatives(self, f: vector.VectorForward, ds: np.ndarray) -> dict[str, step_sums.TermAlternatives]:
        return step_sums.term_alternatives(f.h, f.x, f.params.Wh, ds, self.term_sums)

    def directions(self, f: vector.VectorForward, requested: int | None) -> int | None:
        if requested is not None:
            return requested or None
        from reference.vector_finite_diff import DEFAULT_DIRECTIONS
        return None if elementwise_runs(f.sizes) <= ELEMENTWISE_RUNS else DEFAULT_DIRECTIONS

    def gradient_check(self, rnn: vector.VectorRNN, f: vector.VectorForward, method: str,
                       directions: int | None) -> dict[str, Checked]:
        from reference import vector_finite_diff
        reference = vector.backward(rnn, f)
        estimates = vector_finite_diff.finite_differences(rnn, f, method=method, directions=directions)
        return {name: Checked(estimate.along(reference[name]), estimate) for name, estimate in estimates.items()}


def elementwise_runs(z: vector.Sizes) -> int:
    """How many runs an element-wise check of a vector problem takes: one per element of
    every s_t, x_t, h_t and parameter."""
    O = z.O or 0
    return z.N * z.T * (2 * z.H + z.D) + z.H * (z.D + z.H + 1 + z.N + O) + O


SCALAR = register(ScalarModel())
VECTOR = register(VectorModel())
