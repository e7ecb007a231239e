"""The cell pairs its gradient with a⟨t⟩ instead of a⟨t−1⟩ in dWaa. ∂L/∂s_t is right; dWaa
is wrong (in the cell problem too)."""
import numpy as np
from rnn_utils import rnn_cell_forward, rnn_forward  # noqa: F401


def rnn_cell_backward(da_next, cache):
    a_next, a_prev, xt, parameters = cache
    dtanh = (1 - a_next * a_next) * da_next
    return {"dxt": np.dot(parameters["Wax"].T, dtanh), "da_prev": np.dot(parameters["Waa"].T, dtanh),
            "dWax": np.dot(dtanh, xt.T), "dWaa": np.dot(dtanh, a_next.T),   # bug: a⟨t⟩ for a⟨t−1⟩
            "dba": dtanh.sum(axis=1, keepdims=True)}


def rnn_backward(da, caches):
    cells, x = caches
    out = {"dx": np.zeros(x.shape), "dWax": 0.0, "dWaa": 0.0, "dba": 0.0}
    carried = 0.0
    for t in range(da.shape[-1])[::-1]:
        cell = rnn_cell_backward(da[..., t] + carried, cells[t])
        out["dx"][..., t] = cell["dxt"]
        carried = cell["da_prev"]
        out.update({k: out[k] + cell[k] for k in ("dWax", "dWaa", "dba")})
    out["da0"] = carried
    return out
