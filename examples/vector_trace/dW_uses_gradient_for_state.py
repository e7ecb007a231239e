"""∂L/∂Wh built from the incoming gradient ∂L/∂h_t where the previous state h_{t−1} belongs."""
import numpy as np
from correct import FROM_OUTPUT, direct_gradients, gradients


def backward(trace):
    dh_direct, dz = direct_gradients(trace)
    dphi, Wh = FROM_OUTPUT[trace["phi"]](trace["h"][:, 1:]), trace["Wh"]
    ds, dh = np.zeros_like(dh_direct), np.zeros_like(dh_direct)
    ds_next = np.zeros_like(dh_direct[:, 0])
    for t in reversed(range(ds.shape[1])):
        dh[:, t] = dh_direct[:, t] + ds_next @ Wh.T
        ds[:, t] = ds_next = dh[:, t] * dphi[:, t]
    result = gradients(trace, ds, dz)
    result["dL_dWh"] = np.einsum("ntk,nth->kh", dh, ds)             # bug: dh_t where h_{t−1} belongs
    return result
