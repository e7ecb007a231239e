"""Truncated BPTT by accident: each step's upstream gradient is carried back 3 steps at most.
Right for t ≥ T − 2, wrong from t = T − 3."""
import numpy as np
from correct import FROM_OUTPUT, direct_gradients, gradients

K = 3


def backward(trace):
    dh_direct, dz = direct_gradients(trace)
    dphi, Wh = FROM_OUTPUT[trace["phi"]](trace["h"][:, 1:]), trace["Wh"]
    T = dh_direct.shape[1]
    ds = np.zeros_like(dh_direct)
    for t in range(T):                          # carry step t's gradient back K − 1 steps only
        carried = dh_direct[:, t] * dphi[:, t]
        ds[:, t] += carried
        for back in range(1, K):
            if t - back < 0:
                break
            carried = (carried @ Wh.T) * dphi[:, t - back]
            ds[:, t - back] += carried
    return gradients(trace, ds, dz)
