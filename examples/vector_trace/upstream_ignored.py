"""The upstream gradient ignored: BPTT seeded with a matrix of ones at t = T, as for L = Σ h_T."""
import numpy as np
from correct import FROM_OUTPUT, bptt, direct_gradients, gradients


def backward(trace):
    dh_direct, dz = direct_gradients(trace)
    seed = np.zeros_like(dh_direct)
    seed[:, -1] = 1.0                                            # bug: ones at T, dh never used
    ds = bptt(seed, FROM_OUTPUT[trace["phi"]](trace["h"][:, 1:]), trace["Wh"])
    return gradients(trace, ds, dz)
