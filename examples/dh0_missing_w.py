"""Everything right except ∂L/∂h_0, returned as ∂L/∂s_1 without the factor w."""
import numpy as np
from student_math import DERIVATIVE, loss_gradient


def backward(trace):
    T, w, s, h, x = trace["T"], trace["w"], trace["s"], trace["h"], trace["x"]
    dphi, dtheta = DERIVATIVE[trace["phi"]](s), DERIVATIVE[trace["theta"]](h[1:])
    dy = loss_gradient(trace)
    ds = np.zeros(T + 1)                          # ds[T] = ∂L/∂s_{T+1} = 0
    for t in range(T, 0, -1):
        ds[t - 1] = dphi[t - 1] * (dtheta[t - 1] * dy[t - 1] + w * ds[t])
    ds = ds[:T]
    return {"dL_ds": ds, "dL_dw": np.dot(h[:T], ds), "dL_dv": np.dot(x, ds), "dL_dh0": ds[0]}   # bug: w·∂L/∂s_1
