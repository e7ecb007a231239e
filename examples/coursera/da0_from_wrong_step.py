"""da0 is taken at the first step of the backward loop (t = T_x) instead of after the last.
∂L/∂s_t is right; only da0 is wrong (where T_x > 1)."""
import numpy as np
from rnn_utils import rnn_cell_backward, rnn_cell_forward, rnn_forward  # noqa: F401


def rnn_backward(da, caches):
    cells, x = caches
    total = {"dWax": 0, "dWaa": 0, "dba": 0}
    dx, da_prevt, da0 = np.zeros(x.shape), 0, None
    for t in reversed(range(da.shape[2])):
        g = rnn_cell_backward(da[:, :, t] + da_prevt, cells[t])
        dx[:, :, t], da_prevt = g["dxt"], g["da_prev"]
        da0 = g["da_prev"] if da0 is None else da0             # bug: kept from t = T_x
        total = {k: total[k] + g[k] for k in total}
    return dict(dx=dx, da0=da0, **total)
