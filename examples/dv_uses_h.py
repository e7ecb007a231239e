"""∂L/∂s_t is right, but ∂L/∂v is summed with h_{t−1} (∂L/∂w's formula) instead of x_t."""
import numpy as np
from student_math import DERIVATIVE, loss_gradient


def backward(trace):
    w, s, h = trace["w"], trace["s"], trace["h"]
    a = loss_gradient(trace) * DERIVATIVE[trace["theta"]](h[1:])     # ∂L/∂ŷ_t·θ'(h_t)
    b = DERIVATIVE[trace["phi"]](s)                                # φ'(s_t)
    ds = np.empty_like(a)
    ds[-1] = a[-1] * b[-1]
    for i in range(len(a) - 2, -1, -1):
        ds[i] = (a[i] + w * ds[i + 1]) * b[i]
    return {"dL_ds": ds, "dL_dw": h[:-1] @ ds, "dL_dv": h[:-1] @ ds, "dL_dh0": w * ds[0]}   # bug: dL_dv
