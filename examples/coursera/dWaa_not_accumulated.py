"""dWaa is overwritten at every step, so it keeps the last term computed (t = 1) instead of
the sum. ∂L/∂s_t is right; dWaa is wrong wherever T_x > 1."""
import numpy as np
from rnn_utils import rnn_cell_backward, rnn_cell_forward, rnn_forward  # noqa: F401


def rnn_backward(da, caches):
    (caches, x) = caches
    n_a, m, T_x = da.shape
    dx = np.zeros(x.shape)
    dWax, dba = np.zeros((n_a, x.shape[0])), np.zeros((n_a, 1))
    da_prevt = np.zeros((n_a, m))
    for t in reversed(range(T_x)):
        gradients = rnn_cell_backward(da[:, :, t] + da_prevt, caches[t])
        dx[:, :, t], da_prevt = gradients["dxt"], gradients["da_prev"]
        dWax += gradients["dWax"]
        dWaa = gradients["dWaa"]                               # bug: = instead of +=
        dba += gradients["dba"]
    return {"dx": dx, "da0": da_prevt, "dWax": dWax, "dWaa": dWaa, "dba": dba}
