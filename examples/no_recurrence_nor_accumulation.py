"""Two bugs at once: the ∂L/∂s_{t+1}·w term is dropped, and ∂L/∂w is assigned in the loop
instead of accumulated."""
import numpy as np
from student_math import DERIVATIVE, loss_gradient


def backward(trace):
    T, w, x, s, h = trace["T"], trace["w"], trace["x"], trace["s"], trace["h"]
    dphi, dtheta = DERIVATIVE[trace["phi"]], DERIVATIVE[trace["theta"]]
    dy = loss_gradient(trace)
    ds = np.zeros(T)
    dw = 0.0
    for t in range(T, 0, -1):
        ds[t - 1] = dy[t - 1] * dtheta(h[t]) * dphi(s[t - 1])     # bug: no ∂L/∂s_{t+1}·w
        dw = ds[t - 1] * h[t - 1]                                   # bug: = where += belongs
    return {"dL_ds": ds, "dL_dw": dw, "dL_dv": ds @ x, "dL_dh0": w * ds[0]}
