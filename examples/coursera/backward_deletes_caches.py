"""Right gradients, but rnn_backward deletes each step's cache once used (`del caches[t]`):
a second call on the same caches finds none left. Graded on its first call, it scores full
marks; every sequence problem says that backward must not modify its cache."""
import numpy as np
from rnn_utils import rnn_cell_backward, rnn_cell_forward, rnn_forward  # noqa: F401


def rnn_backward(da, caches):
    (caches, x) = caches
    n_a, m, T_x = da.shape
    dx = np.zeros(x.shape)
    dWax, dWaa, dba = np.zeros((n_a, x.shape[0])), np.zeros((n_a, n_a)), np.zeros((n_a, 1))
    da_prevt = np.zeros((n_a, m))
    for t in reversed(range(T_x)):
        gradients = rnn_cell_backward(da[:, :, t] + da_prevt, caches[t])
        del caches[t]                                      # consumes the caches: the last step first
        dx[:, :, t] = gradients["dxt"]
        da_prevt = gradients["da_prev"]
        dWax += gradients["dWax"]
        dWaa += gradients["dWaa"]
        dba += gradients["dba"]
    return {"dx": dx, "da0": da_prevt, "dWax": dWax, "dWaa": dWaa, "dba": dba}
