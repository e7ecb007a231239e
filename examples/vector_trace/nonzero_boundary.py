"""BPTT started with ∂L/∂s_{T+1} = 1 (a matrix of ones) instead of 0: wrong from t = T."""
import numpy as np
from correct import FROM_OUTPUT, direct_gradients, gradients


def backward(trace):
    dh_direct, dz = direct_gradients(trace)
    dphi, Wh = FROM_OUTPUT[trace["phi"]](trace["h"][:, 1:]), trace["Wh"]
    ds = np.zeros_like(dh_direct)
    ds_next = np.ones_like(dh_direct[:, 0])                         # bug: there is no step T+1
    for t in reversed(range(ds.shape[1])):
        ds[:, t] = ds_next = (dh_direct[:, t] + ds_next @ Wh.T) * dphi[:, t]
    return gradients(trace, ds, dz)
