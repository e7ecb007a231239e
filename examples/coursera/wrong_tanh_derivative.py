"""tanh' taken of a⟨t⟩ in rnn_cell_backward: a_next is already tanh(·), and 1 − tanh(a_next)²
is not 1 − a_next². Wrong from the first step BPTT computes, t = T_x, and in the cell problem."""
import numpy as np
from rnn_utils import rnn_cell_forward, rnn_forward  # noqa: F401  (graded from this file)


def rnn_cell_backward(da_next, cache):
    a_next, a_prev, xt, p = cache
    dz = (1 - np.tanh(a_next) ** 2) * da_next                  # bug: tanh of tanh
    return {"dxt": p["Wax"].T @ dz, "da_prev": p["Waa"].T @ dz, "dWax": dz @ xt.T,
            "dWaa": dz @ a_prev.T, "dba": dz.sum(axis=1, keepdims=True)}


def rnn_backward(da, caches):
    caches, x = caches
    grads = {"dx": np.zeros(x.shape), "dWax": 0, "dWaa": 0, "dba": 0}
    da_prev = np.zeros(da.shape[:2])
    for t in range(da.shape[2] - 1, -1, -1):
        g = rnn_cell_backward(da[:, :, t] + da_prev, caches[t])
        grads["dx"][:, :, t], da_prev = g["dxt"], g["da_prev"]
        for name in ("dWax", "dWaa", "dba"):
            grads[name] = grads[name] + g[name]
    grads["da0"] = da_prev
    return grads
