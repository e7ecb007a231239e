"""Only the last step's loss enters; every earlier step just passes ∂L/∂s_{t+1} on."""
import numpy as np
from student_math import DERIVATIVE, loss_gradient


def backward(trace):
    T, w, s, h = trace["T"], trace["w"], trace["s"], trace["h"]
    dphi, dtheta = DERIVATIVE[trace["phi"]], DERIVATIVE[trace["theta"]]
    ds = np.zeros(T)
    ds[T - 1] = loss_gradient(trace)[T - 1] * dtheta(h[T]) * dphi(s[T - 1])
    for t in range(T - 1, 0, -1):
        ds[t - 1] = ds[t] * w * dphi(s[t - 1])               # bug: no ∂L/∂ŷ_t·θ'(h_t)
    return {"dL_ds": ds, "dL_dw": ds @ h[:-1], "dL_dv": ds @ trace["x"], "dL_dh0": w * ds[0]}
