"""A correct BPTT backward for the scalar RNN."""
import numpy as np
from student_math import DERIVATIVE, loss_gradient


def backward(trace):
    T, w, s, h = trace["T"], trace["w"], trace["s"], trace["h"]
    dphi, dtheta = DERIVATIVE[trace["phi"]], DERIVATIVE[trace["theta"]]
    dy = loss_gradient(trace)
    ds, dh = np.zeros(T), np.zeros(T)
    ds_next = 0.0                                   # ∂L/∂s_{T+1} = 0
    for t in range(T, 0, -1):
        dh[t - 1] = dy[t - 1] * dtheta(h[t]) + ds_next * w
        ds[t - 1] = dh[t - 1] * dphi(s[t - 1])
        ds_next = ds[t - 1]
    return {"dL_ds": ds, "dL_dh": dh, "dL_dx": trace["v"] * ds,
            "dL_dw": ds @ h[:-1], "dL_dv": ds @ trace["x"], "dL_dh0": w * ds[0]}
