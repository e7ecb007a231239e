"""tanh' applied to h_t: next_h is already tanh(s_t), and 1 − tanh(next_h)² is not
1 − next_h². Wrong from the first step BPTT computes, t = T, and in the step problem."""
import numpy as np
from rnn_layers import rnn_forward, rnn_step_forward  # noqa: F401  (graded from this file)


def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    ds = dnext_h * (1 - np.tanh(next_h) ** 2)          # bug: tanh of tanh
    return ds @ Wx.T, ds @ Wh.T, x.T @ ds, prev_h.T @ ds, ds.sum(0)


def rnn_backward(dh, cache):
    grads = [np.zeros((dh.shape[0], dh.shape[1], cache[0][0].shape[1])), None,
             np.zeros_like(cache[0][2]), np.zeros_like(cache[0][3]), np.zeros(dh.shape[2])]
    carry = np.zeros_like(dh[:, 0])
    for t in range(dh.shape[1] - 1, -1, -1):
        dx_t, carry, dWx, dWh, db = rnn_step_backward(dh[:, t] + carry, cache[t])
        grads[0][:, t] = dx_t
        grads[2] += dWx
        grads[3] += dWh
        grads[4] += db
    grads[1] = carry
    return tuple(grads)
