"""Right gradients, but rnn_backward takes each step's cache off the list (`cache.pop()`):
a second call on the same cache finds it empty. Graded on its first call, it scores full
marks; every sequence problem says that backward must not modify its cache."""
import numpy as np
from rnn_layers import rnn_forward, rnn_step_backward, rnn_step_forward  # noqa: F401


def rnn_backward(dh, cache):
    N, T, H = dh.shape
    dxs = []
    dWx = dWh = db = 0.0
    dprev_h = np.zeros((N, H))
    for t in reversed(range(T)):
        step = cache.pop()                                 # consumes the cache: the last step first
        dx, dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t] + dprev_h, step)
        dxs.insert(0, dx)
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return np.stack(dxs, axis=1), dprev_h, dWx, dWh, db
