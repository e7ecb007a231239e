"""dWh keeps only the last term the loop computes (t = 1) instead of the sum over t.
∂L/∂s_t is right everywhere; dWh is wrong wherever T > 1."""
import numpy as np
from rnn_layers import rnn_forward, rnn_step_backward, rnn_step_forward  # noqa: F401


def rnn_backward(dh, cache):
    N, T, _ = dh.shape
    dxs = []
    dWx = db = dprev = 0.0
    for t in range(T - 1, -1, -1):
        step = rnn_step_backward(dh[:, t] + dprev, cache[t])
        dxs.insert(0, step[0])
        dprev = step[1]
        dWx = dWx + step[2]
        dWh = step[3]                                      # bug: = instead of +=
        db = db + step[4]
    return np.stack(dxs, axis=1), dprev, dWx, dWh, db
