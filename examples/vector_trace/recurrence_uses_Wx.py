"""Wx where Wh belongs in the recursion: ∂L/∂s_{t+1}·Wxᵀ. Runs only where D = H (elsewhere
the shapes do not fit, and it raises); right at t = T, wrong from t = T − 1."""
from correct import FROM_OUTPUT, bptt, direct_gradients, gradients


def backward(trace):
    dh_direct, dz = direct_gradients(trace)
    ds = bptt(dh_direct, FROM_OUTPUT[trace["phi"]](trace["h"][:, 1:]), trace["Wx"])   # bug: Wx, not Wh
    return gradients(trace, ds, dz)
