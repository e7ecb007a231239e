"""∂L/∂Wh summed with h_t instead of h_{t−1}. ∂L/∂s_t is right; dL_dWh is wrong."""
import numpy as np
from correct import backward as correct_backward


def backward(trace):
    result = correct_backward(trace)
    result["dL_dWh"] = np.einsum("ntk,nth->kh", trace["h"][:, 1:], result["dL_ds"])   # bug: h_t
    return result
