"""A correct BPTT backward for the batched vector RNN under the trace contract. Arrays are
batch-first: x[:, t-1] = x_t (N, D), h[:, t] = h_t (N, H) with h[:, 0] = h_0. The helpers
are the pieces a student's own code would have; the buggy examples beside it reuse them."""
import numpy as np

# φ' and θ' written from the activation's output a = φ(s), as vectorised code usually does
FROM_OUTPUT = {"identity": np.ones_like, "tanh": lambda a: 1 - a ** 2, "sigmoid": lambda a: a * (1 - a),
               "relu": lambda a: (a > 0) * 1.0}


def direct_gradients(trace):
    """(∂L/∂h_t through step t's own loss term (N, T, H), ∂L/∂z_t of the output layer or None)."""
    if trace["loss"] == "upstream":
        return trace["dh"], None
    y_hat, y = trace["y_hat"], trace["y"]
    if trace["loss"] == "softmax_cross_entropy":            # ŷ_t are logits (θ = identity)
        p = np.exp(y_hat - y_hat.max(axis=-1, keepdims=True))
        dz = p / p.sum(axis=-1, keepdims=True) - y
    else:                                                   # (mean) squared error
        scale = 2 / trace["T"] if trace["loss"] == "mean_squared_error" else 1
        dz = scale * (y_hat - y) * FROM_OUTPUT[trace["theta"]](y_hat)
    return dz @ trace["Wy"].T, dz


def bptt(dh_direct, dphi, Wh):
    """∂L/∂s_t from t = T down to 1, with ∂L/∂s_{T+1} = 0."""
    ds = np.zeros_like(dh_direct)
    ds_next = np.zeros_like(dh_direct[:, 0])
    for t in reversed(range(ds.shape[1])):
        ds[:, t] = (dh_direct[:, t] + ds_next @ Wh.T) * dphi[:, t]
        ds_next = ds[:, t]
    return ds


def gradients(trace, ds, dz):
    h = trace["h"]
    result = {"dL_ds": ds, "dL_dx": ds @ trace["Wx"].T, "dL_dWx": np.einsum("ntd,nth->dh", trace["x"], ds),
              "dL_dWh": np.einsum("ntk,nth->kh", h[:, :-1], ds), "dL_db": ds.sum(axis=(0, 1)),
              "dL_dh0": ds[:, 0] @ trace["Wh"].T}
    if dz is not None:
        result.update(dL_dWy=np.einsum("nth,nto->ho", h[:, 1:], dz), dL_dby=dz.sum(axis=(0, 1)))
    return result


def backward(trace):
    dh_direct, dz = direct_gradients(trace)
    ds = bptt(dh_direct, FROM_OUTPUT[trace["phi"]](trace["h"][:, 1:]), trace["Wh"])
    return gradients(trace, ds, dz)
