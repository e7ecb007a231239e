"""Carries ∂L/∂s_{t+1} back through v instead of w."""
import numpy as np
from student_math import DERIVATIVE, loss_gradient


def backward(trace):
    x, s, h, v, w = trace["x"], trace["s"], trace["h"], trace["v"], trace["w"]
    theta_prime, phi_prime = DERIVATIVE[trace["theta"]], DERIVATIVE[trace["phi"]]
    dy = loss_gradient(trace)
    delta = np.zeros(len(x))
    carry = 0.0
    for i in reversed(range(len(x))):             # i = t - 1
        delta[i] = (dy[i] * theta_prime(h[i + 1]) + carry * v) * phi_prime(s[i])   # bug: v, not w
        carry = delta[i]
    return {"dL_ds": delta, "dL_dw": np.sum(delta * h[:-1]), "dL_dv": np.sum(delta * x), "dL_dh0": w * delta[0]}
