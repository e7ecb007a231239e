"""Only da⟨T_x⟩ enters: for earlier steps the loop passes on da_prevt alone and forgets
da[:, :, t]. Right at t = T_x, wrong from t = T_x − 1."""
import numpy as np
from rnn_utils import rnn_cell_backward, rnn_cell_forward, rnn_forward  # noqa: F401


def rnn_backward(da, caches):
    cells, x = caches
    T_x = da.shape[2]
    dx = np.zeros_like(x)
    sums = {}
    incoming = da[:, :, T_x - 1]
    for t in reversed(range(T_x)):
        gradients = rnn_cell_backward(incoming, cells[t])
        dx[:, :, t] = gradients["dxt"]
        incoming = gradients["da_prev"]                        # bug: + da[:, :, t - 1] missing
        for key in ("dWax", "dWaa", "dba"):
            sums[key] = sums.get(key, 0) + gradients[key]
    return {"dx": dx, "da0": incoming, **sums}
