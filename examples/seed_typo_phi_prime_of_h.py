"""The seed question's typo: φ'(h_t) where θ'(h_t) belongs in ∂L/∂h_t."""
import numpy as np
from student_math import DERIVATIVE, loss_gradient


def backward(trace):
    T, w, s, h = trace["T"], trace["w"], trace["s"], trace["h"]
    dphi = DERIVATIVE[trace["phi"]]
    dy = loss_gradient(trace)
    ds = np.zeros(T)
    ds_next = 0.0
    for t in range(T, 0, -1):
        ds[t - 1] = (dy[t - 1] * dphi(h[t]) + ds_next * w) * dphi(s[t - 1])   # bug: φ' for θ'
        ds_next = ds[t - 1]
    return {"dL_ds": ds, "dL_dw": ds @ h[:-1], "dL_dv": ds @ trace["x"], "dL_dh0": w * ds[0]}
