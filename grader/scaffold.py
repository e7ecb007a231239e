"""A starter submission for a problem set: the signature, the contract, and no answer.
One starter per contract (STARTERS); the trace contract's for vector problems lists their arrays."""
from grader.problem_set import ProblemSet

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


VECTOR_TRACE = '''"""Starter submission for: {title}

Grade it with:  bptt-grade grade {path} THIS_FILE
"""
import numpy as np


def {entry_point}(trace):
    """Backpropagation through time for the batched vector RNN, t = 1..T:

        s_t = x_t·Wx + h_{{t−1}}·Wh + b,  h_t = φ(s_t),
        and L = Σ_t ⟨dh_t, h_t⟩ (loss "upstream") or ŷ_t = θ(h_t·Wy + by) and a loss.

    `trace` is a read-only mapping (arrays batch-first and 0-based, t 1-based):
      x (N, T, D), h0 (N, H), Wx (D, H), Wh (H, H), b (H,)
      s (N, T, H): s[:, t-1] = s_t;  h (N, T+1, H): h[:, 0] = h_0, h[:, t] = h_t
      dh (N, T, H) for the upstream loss; else y, y_hat (N, T, O), Wy (H, O), by (O,)
      N, T, D, H (and O), phi, theta, loss   sizes and names

    Return a dict with the gradients graded (∂L/∂s_t from t = T down to 1, ∂L/∂s_{{T+1}} = 0):
      "dL_ds" (N, T, H), "dL_dx" (N, T, D), "dL_dWx", "dL_dWh", "dL_db", "dL_dh0",
      and with an output layer "dL_dWy", "dL_dby": each shaped as its variable.
    """
    raise NotImplementedError("compute ∂L/∂s_t for t = T down to 1")
'''

CS231N = '''"""Starter submission for: {title} (CS231n's rnn_layers.py functions)

Grade it with:  bptt-grade grade {path} THIS_FILE
Shapes: x (N, T, D), h0 (N, H), Wx (D, H), Wh (H, H), b (H,), h and dh (N, T, H).
"""
import numpy as np


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """next_h = tanh(x Wx + prev_h Wh + b); returns (next_h, cache)."""
    raise NotImplementedError("write rnn_step_forward")


def rnn_step_backward(dnext_h, cache):
    """Returns (dx, dprev_h, dWx, dWh, db)."""
    raise NotImplementedError("write rnn_step_backward")


def rnn_forward(x, h0, Wx, Wh, b):
    """Returns (h, cache), h of shape (N, T, H)."""
    raise NotImplementedError("write rnn_forward")


def rnn_backward(dh, cache):
    """dh: upstream gradients of every h_t. Returns (dx, dh0, dWx, dWh, db)."""
    raise NotImplementedError("write rnn_backward")
'''

COURSERA = '''"""Starter submission for: {title} (the Coursera "RNN step by step" functions)

Grade it with:  bptt-grade grade {path} THIS_FILE
Shapes: x (n_x, m, T_x), a0 (n_a, m); parameters Wax (n_a, n_x), Waa (n_a, n_a),
ba (n_a, 1), Wya (n_y, n_a), by (n_y, 1); a (n_a, m, T_x), y_pred (n_y, m, T_x).
"""
import numpy as np


def rnn_cell_forward(xt, a_prev, parameters):
    """Returns (a_next, yt_pred, cache)."""
    raise NotImplementedError("write rnn_cell_forward")


def rnn_cell_backward(da_next, cache):
    """Returns {{"dxt", "da_prev", "dWax", "dWaa", "dba"}}."""
    raise NotImplementedError("write rnn_cell_backward")


def rnn_forward(x, a0, parameters):
    """Returns (a, y_pred, caches)."""
    raise NotImplementedError("write rnn_forward")


def rnn_backward(da, caches):
    """da: upstream gradients of every a⟨t⟩. Returns {{"dx", "da0", "dWax", "dWaa", "dba"}}."""
    raise NotImplementedError("write rnn_backward")
'''

MIN_CHAR_RNN = '''"""Starter submission for: {title} (Karpathy's min-char-rnn lossFun)

Grade it with:  bptt-grade grade {path} THIS_FILE
The grader sets the module globals below for each problem, then calls lossFun.
Shapes (column vectors): Wxh (H, V), Whh (H, H), Why (V, H), bh (H, 1), by (V, 1), hprev (H, 1).
"""
import numpy as np

Wxh = Whh = Why = bh = by = None


def lossFun(inputs, targets, hprev):
    """inputs, targets: lists of T character indices in 0..V-1; hprev: h_0, shape (H, 1).
    h_t = tanh(Wxh·x_t + Whh·h_{{t-1}} + bh) with x_t the one-hot column of inputs[t],
    p_t = softmax(Why·h_t + by), loss = -Σ_t log p_t[targets[t]].
    Returns loss, dWxh, dWhh, dWhy, dbh, dby, h_last (h_T, shape (H, 1))."""
    raise NotImplementedError("write lossFun")
'''

STARTERS = {"cs231n": CS231N, "coursera": COURSERA, "min-char-rnn": MIN_CHAR_RNN}


def scaffold(problem_set: ProblemSet) -> str:
    fields = dict(title=problem_set.title, path=problem_set.path, entry_point=problem_set.entry_point)
    if problem_set.contract in STARTERS:
        return STARTERS[problem_set.contract].format(**fields)
    if any(p.model.name == "vector" for p in problem_set.problems):   # its trace lists the arrays
        return VECTOR_TRACE.format(**fields)
    graded = [name for name in OUTPUTS if any(name in p.grade for p in problem_set.problems)]
    returns = "\n".join(f'      "{name}"  {OUTPUTS[name]}' for name in graded)
    return TEMPLATE.format(returns=returns, **fields)
