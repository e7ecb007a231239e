"""∂L/∂b as a batch mean: N times too small. Everything else is right."""
from correct import backward as correct_backward


def backward(trace):
    result = correct_backward(trace)
    result["dL_db"] = result["dL_ds"].sum(axis=1).mean(axis=0)       # bug: mean over the batch
    return result
