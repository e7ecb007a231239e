"""No ∂L/∂s_{t+1}·Whᵀ: each step keeps only its own loss term. Right at t = T, wrong from t = T − 1."""
from correct import FROM_OUTPUT, direct_gradients, gradients


def backward(trace):
    dh_direct, dz = direct_gradients(trace)
    ds = dh_direct * FROM_OUTPUT[trace["phi"]](trace["h"][:, 1:])     # bug: no recursion at all
    return gradients(trace, ds, dz)
