"""Multiplies only the local term by φ'(s_t): w·∂L/∂s_{t+1} is added after the bracket closes."""
import numpy as np
from student_math import DERIVATIVE, loss_gradient


def backward(trace):
    s, h, w, T = trace["s"], trace["h"], trace["w"], trace["T"]
    local = loss_gradient(trace) * DERIVATIVE[trace["theta"]](h[1:])
    phi_prime = DERIVATIVE[trace["phi"]](s)
    grad_s = [0.0] * (T + 1)                      # grad_s[T] is ∂L/∂s_{T+1} = 0
    t = T
    while t >= 1:
        grad_s[t - 1] = local[t - 1] * phi_prime[t - 1] + grad_s[t] * w    # bug: brackets
        t -= 1
    ds = np.array(grad_s[:T])
    return {"dL_ds": ds, "dL_dw": float(np.dot(ds, h[:T])), "dL_dv": float(np.dot(ds, trace["x"])),
            "dL_dh0": w * ds[0]}
