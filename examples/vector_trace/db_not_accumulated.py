"""∂L/∂b assigned in the backward loop instead of accumulated: only the t = 1 term is left."""
from correct import backward as correct_backward


def backward(trace):
    result = correct_backward(trace)
    ds = result["dL_ds"]
    for t in reversed(range(ds.shape[1])):
        db = ds[:, t].sum(axis=0)                                    # bug: = instead of +=
    result["dL_db"] = db
    return result
