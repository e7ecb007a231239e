"""∂L/∂s_t is right, but ∂L/∂w is assigned in the loop instead of accumulated."""
import numpy as np
from student_math import DERIVATIVE, loss_gradient


def backward(trace):
    T, w, x, s, h = trace["T"], trace["w"], trace["x"], trace["s"], trace["h"]
    dphi, dtheta = DERIVATIVE[trace["phi"]], DERIVATIVE[trace["theta"]]
    dy = loss_gradient(trace)
    ds = np.zeros(T)
    dw = dv = 0.0
    for t in range(T, 0, -1):
        after = ds[t] * w if t < T else 0.0
        ds[t - 1] = (dy[t - 1] * dtheta(h[t]) + after) * dphi(s[t - 1])
        dw = ds[t - 1] * h[t - 1]                            # bug: = where += belongs
        dv += ds[t - 1] * x[t - 1]
    return {"dL_ds": ds, "dL_dw": dw, "dL_dv": dv, "dL_dh0": w * ds[0]}
