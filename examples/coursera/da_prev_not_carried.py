"""Each cell is backpropagated with its own da⟨t⟩: the gradient from a⟨t+1⟩ (da_prevt) is
never added. Right at t = T_x, wrong from t = T_x − 1."""
import numpy as np
from rnn_utils import rnn_cell_backward, rnn_cell_forward, rnn_forward  # noqa: F401


def rnn_backward(da, caches):
    cells, _ = caches
    per_step = [rnn_cell_backward(da[:, :, t], cells[t]) for t in range(da.shape[2])]   # bug
    summed = {k: np.sum([g[k] for g in per_step], axis=0) for k in ("dWax", "dWaa", "dba")}
    return {"dx": np.stack([g["dxt"] for g in per_step], axis=-1), "da0": per_step[0]["da_prev"], **summed}
