"""Leaves out φ'(s_t): ∂L/∂s_t is taken to be ∂L/∂h_t. Invisible for φ = identity."""
import numpy as np
from student_math import DERIVATIVE, loss_gradient


def backward(trace):
    T, w, h = trace["T"], trace["w"], trace["h"]
    dtheta = DERIVATIVE[trace["theta"]]
    dy = loss_gradient(trace)
    ds = np.zeros(T)
    ds_next = 0.0
    for t in range(T, 0, -1):
        ds[t - 1] = dy[t - 1] * dtheta(h[t]) + ds_next * w          # bug: no factor φ'(s_t)
        ds_next = ds[t - 1]
    return {"dL_ds": ds, "dL_dw": ds @ h[:-1], "dL_dv": ds @ trace["x"], "dL_dh0": w * ds[0]}
