"""∂L/∂Wx assigned in the backward loop instead of accumulated: only the t = 1 term is left."""
from correct import backward as correct_backward


def backward(trace):
    result = correct_backward(trace)
    ds, x = result["dL_ds"], trace["x"]
    for t in reversed(range(ds.shape[1])):
        dWx = x[:, t].T @ ds[:, t]                                   # bug: = instead of +=
    result["dL_dWx"] = dWx
    return result
