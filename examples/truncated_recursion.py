"""Truncated BPTT by accident: ∂L/∂s_{t+1} is carried back at most 3 steps."""
import numpy as np
from student_math import DERIVATIVE, loss_gradient

K = 3


def backward(trace):
    T, w, s, h = trace["T"], trace["w"], trace["s"], trace["h"]
    dphi, dtheta = DERIVATIVE[trace["phi"]], DERIVATIVE[trace["theta"]]
    local = loss_gradient(trace) * dtheta(h[1:])
    ds = np.zeros(T)
    for t in range(T, 0, -1):                      # bug: only the next K losses reach s_t
        carried, factor = 0.0, 1.0
        for k in range(t, min(T, t + K - 1) + 1):
            factor = factor * dphi(s[k - 1]) * (w if k > t else 1.0)
            carried += local[k - 1] * factor
        ds[t - 1] = carried
    return {"dL_ds": ds, "dL_dw": ds @ h[:-1], "dL_dv": ds @ trace["x"], "dL_dh0": w * ds[0]}
