"""dh0 is read off in the first iteration of the backward loop (at t = T) instead of after the
last (at t = 1). ∂L/∂s_t is right; only dh0 is wrong (where T > 1)."""
import numpy as np
from rnn_layers import rnn_forward, rnn_step_backward, rnn_step_forward  # noqa: F401


def rnn_backward(dh, cache):
    N, T, H = dh.shape
    D = cache[0][0].shape[1]
    dx, dWx, dWh, db = np.zeros((N, T, D)), np.zeros((D, H)), np.zeros((H, H)), np.zeros(H)
    dprev_h = np.zeros((N, H))
    for t in reversed(range(T)):
        dx[:, t, :], dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t, :] + dprev_h, cache[t])
        if t == T - 1:
            dh0 = dprev_h                                  # bug: the gradient of h_{T−1}, not of h_0
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return dx, dh0, dWx, dWh, db
