"""Clips ∂L/∂s_t to [−0.05, 0.05] inside the recursion: a bug in no catalogue."""
import numpy as np
from student_math import DERIVATIVE, loss_gradient


def backward(trace):
    T, w, s, h = trace["T"], trace["w"], trace["s"], trace["h"]
    dphi, dtheta = DERIVATIVE[trace["phi"]], DERIVATIVE[trace["theta"]]
    dy = loss_gradient(trace)
    ds = np.zeros(T)
    ds_next = 0.0
    for t in range(T, 0, -1):
        ds[t - 1] = np.clip((dy[t - 1] * dtheta(h[t]) + ds_next * w) * dphi(s[t - 1]), -0.05, 0.05)
        ds_next = ds[t - 1]
    return {"dL_ds": ds, "dL_dw": ds @ h[:-1], "dL_dv": ds @ trace["x"], "dL_dh0": w * ds[0]}
