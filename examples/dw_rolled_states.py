"""∂L/∂s_t is right, but ∂L/∂w takes h_{t−1} from h_1..h_T rolled one step: the roll brings
h_T round to t = 1, where h_0 belongs."""
import numpy as np
from student_math import DERIVATIVE, loss_gradient


def backward(trace):
    T, w, s, h = trace["T"], trace["w"], trace["s"], trace["h"]
    dphi, dtheta = DERIVATIVE[trace["phi"]], DERIVATIVE[trace["theta"]]
    dy = loss_gradient(trace)
    ds = np.zeros(T)
    ds_next = 0.0
    for t in range(T, 0, -1):
        ds[t - 1] = (dy[t - 1] * dtheta(h[t]) + ds_next * w) * dphi(s[t - 1])
        ds_next = ds[t - 1]
    h_prev = np.roll(h[1:], 1)                       # bug: [h_T, h_1, …, h_{T−1}], not h[:-1]
    return {"dL_ds": ds, "dL_dw": ds @ h_prev, "dL_dv": ds @ trace["x"], "dL_dh0": w * ds[0]}
