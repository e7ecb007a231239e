"""Only the last step's upstream gradient enters: for t < T the loop carries dprev_h back but
forgets to add dh_t. Right at t = T, wrong from t = T − 1."""
import numpy as np
from rnn_layers import rnn_forward, rnn_step_backward, rnn_step_forward  # noqa: F401


def rnn_backward(dh, cache):
    N, T, H = dh.shape
    dx = np.empty((N, T, cache[0][0].shape[1]))
    dWx, dWh, db = 0, 0, 0
    dcurrent = dh[:, T - 1]
    for t in reversed(range(T)):
        dx[:, t], dcurrent, a, b_, c = rnn_step_backward(dcurrent, cache[t])   # bug: + dh[:, t - 1] missing
        dWx, dWh, db = dWx + a, dWh + b_, db + c
    return dx, dcurrent, dWx, dWh, db
