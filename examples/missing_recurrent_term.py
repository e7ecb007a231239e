"""Forgets that h_t also feeds s_{t+1}: the ∂L/∂s_{t+1}·w term is dropped."""
from student_math import DERIVATIVE, loss_gradient


def backward(trace):
    w, s, h = trace["w"], trace["s"], trace["h"]
    dphi, dtheta = DERIVATIVE[trace["phi"]], DERIVATIVE[trace["theta"]]
    dy = loss_gradient(trace)
    ds = dy * dtheta(h[1:]) * dphi(s)            # bug: no ∂L/∂s_{t+1}·w
    return {"dL_ds": ds, "dL_dw": ds @ h[:-1], "dL_dv": ds @ trace["x"], "dL_dh0": w * ds[0]}
