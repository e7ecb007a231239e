"""φ' written for the pre-activation, φ'(s) = 1 − tanh²(s), but evaluated at h_t = φ(s_t).
Wrong from t = T for tanh and sigmoid; invisible for relu, where φ'(h_t) = φ'(s_t)."""
import numpy as np
from correct import bptt, direct_gradients, gradients

OF_INPUT = {"tanh": lambda s: 1 - np.tanh(s) ** 2, "sigmoid": lambda s: np.exp(-s) / (1 + np.exp(-s)) ** 2,
            "relu": lambda s: (s > 0) * 1.0}


def backward(trace):
    dh_direct, dz = direct_gradients(trace)
    ds = bptt(dh_direct, OF_INPUT[trace["phi"]](trace["h"][:, 1:]), trace["Wh"])   # bug: at h_t, not s_t
    return gradients(trace, ds, dz)
