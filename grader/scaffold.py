"""A starter submission for a problem set: the signature, the contract, and no answer."""
from grader.problems import ProblemSet

TEMPLATE = '''"""Starter submission for: {title}

Grade it with:  bptt-grade grade {path} THIS_FILE
"""
import numpy as np


def {entry_point}(trace):
    """Backpropagation through time for the scalar RNN

        s_t = w·h_{{t−1}} + v·x_t,  h_t = φ(s_t),  ŷ_t = θ(h_t),  L = Σ_t ℓ(ŷ_t, y_t),  t = 1..T.

    `trace` is a read-only mapping with the forward pass (arrays are 0-based, t is 1-based):
      x, y    float64 arrays of shape (T,): x[t-1] = x_t, y[t-1] = y_t
      w, v, h0  floats
      s       shape (T,):   s[t-1] = s_t
      h       shape (T+1,): h[0] = h_0, h[t] = h_t
      y_hat   shape (T,):   y_hat[t-1] = ŷ_t
      T       the sequence length
      phi, theta, loss   names, e.g. "tanh", "sigmoid", "squared_error"

    Return a dict with the gradients this problem set grades (lists, tuples and numpy
    arrays are all accepted; BPTT computes ∂L/∂s_t from t = T down to 1, with ∂L/∂s_{{T+1}} = 0):
{returns}
    """
    raise NotImplementedError("compute ∂L/∂s_t for t = T down to 1")
'''


OUTPUTS = {
    "dL_ds": "shape (T,): dL_ds[t-1] = ∂L/∂s_t",
    "dL_dh": "shape (T,): dL_dh[t-1] = ∂L/∂h_t",
    "dL_dx": "shape (T,): dL_dx[t-1] = ∂L/∂x_t",
    "dL_dw": "a float: ∂L/∂w",
    "dL_dv": "a float: ∂L/∂v",
    "dL_dh0": "a float: ∂L/∂h_0",
}


def scaffold(problem_set: ProblemSet) -> str:
    graded = [name for name in OUTPUTS if any(name in p.grade for p in problem_set.problems)]
    returns = "\n".join(f'      "{name}"  {OUTPUTS[name]}' for name in graded)
    return TEMPLATE.format(title=problem_set.title, path=problem_set.path,
                           entry_point=problem_set.entry_point, returns=returns)
