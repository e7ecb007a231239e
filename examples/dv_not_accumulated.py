"""∂L/∂s_t is right, but ∂L/∂v keeps only the last term BPTT computes."""
import numpy as np
from student_math import DERIVATIVE, loss_gradient


def backward(trace):
    T, w, x, s, h = trace["T"], trace["w"], trace["x"], trace["s"], trace["h"]
    dy = loss_gradient(trace)
    grads = {"dL_ds": np.zeros(T), "dL_dw": 0.0, "dL_dv": 0.0}
    delta = 0.0
    for t in reversed(range(1, T + 1)):
        delta = (dy[t - 1] * DERIVATIVE[trace["theta"]](h[t]) + delta * w) * DERIVATIVE[trace["phi"]](s[t - 1])
        grads["dL_ds"][t - 1] = delta
        grads["dL_dw"] += delta * h[t - 1]
        grads["dL_dv"] = delta * x[t - 1]                    # bug: = where += belongs
    grads["dL_dh0"] = w * grads["dL_ds"][0]
    return grads
