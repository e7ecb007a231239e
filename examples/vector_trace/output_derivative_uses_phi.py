"""The output layer's ∂L/∂z_t takes φ'(z_t), the state activation's derivative, where θ'(z_t)
belongs: the seed question's typo in an output layer. Invisible where φ = θ, and where there
is no output layer."""
import numpy as np
from correct import FROM_OUTPUT, bptt, gradients

OF_INPUT = {"tanh": lambda z: 1 - np.tanh(z) ** 2, "sigmoid": lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2,
            "relu": lambda z: (z > 0) * 1.0, "identity": np.ones_like}


def backward(trace):
    if trace["loss"] == "upstream":
        dh_direct, dz = trace["dh"], None
    else:
        y_hat, y, z = trace["y_hat"], trace["y"], trace["h"][:, 1:] @ trace["Wy"] + trace["by"]
        if trace["loss"] == "softmax_cross_entropy":
            p = np.exp(y_hat - y_hat.max(axis=-1, keepdims=True))
            error = p / p.sum(axis=-1, keepdims=True) - y
        else:
            error = (2 / trace["T"] if trace["loss"] == "mean_squared_error" else 1) * (y_hat - y)
        dz = error * OF_INPUT[trace["phi"]](z)                     # bug: φ' where θ' belongs
        dh_direct = dz @ trace["Wy"].T
    ds = bptt(dh_direct, FROM_OUTPUT[trace["phi"]](trace["h"][:, 1:]), trace["Wh"])
    return gradients(trace, ds, dz)
