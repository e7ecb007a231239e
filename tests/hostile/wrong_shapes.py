"""Returns a column instead of a vector, a pair for a scalar, and a string."""
import numpy as np


def backward(trace):
    return {"dL_ds": np.zeros((trace["T"], 1)), "dL_dw": [1.0, 2.0], "dL_dv": "abc"}
