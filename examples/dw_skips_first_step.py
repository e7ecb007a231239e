"""∂L/∂s_t is right, but ∂L/∂w sums from t = 2: the t = 1 term ∂L/∂s_1·h_0 is missing
(h_0 taken for a constant that has no gradient term)."""
import numpy as np
from student_math import DERIVATIVE, loss_gradient


def backward(trace):
    T, w, x, s, h = trace["T"], trace["w"], trace["x"], trace["s"], trace["h"]
    dphi, dtheta = DERIVATIVE[trace["phi"]], DERIVATIVE[trace["theta"]]
    dy = loss_gradient(trace)
    ds = np.zeros(T)
    dw = 0.0
    for t in range(T, 0, -1):
        after = ds[t] * w if t < T else 0.0
        ds[t - 1] = (dy[t - 1] * dtheta(h[t]) + after) * dphi(s[t - 1])
        if t > 1:                                    # bug: the t = 1 term belongs too
            dw += ds[t - 1] * h[t - 1]
    return {"dL_ds": ds, "dL_dw": dw, "dL_dv": ds @ x, "dL_dh0": w * ds[0]}
