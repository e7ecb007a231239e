"""∂L/∂s_{t+1}·Wh where ∂L/∂s_{t+1}·Whᵀ belongs: Wh is square, so it runs. Right at t = T,
wrong from t = T − 1."""
from correct import FROM_OUTPUT, bptt, direct_gradients, gradients


def backward(trace):
    dh_direct, dz = direct_gradients(trace)
    ds = bptt(dh_direct, FROM_OUTPUT[trace["phi"]](trace["h"][:, 1:]), trace["Wh"].T)   # bug: bptt multiplies by Whᵀ
    return gradients(trace, ds, dz)
