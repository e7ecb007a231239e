"""Takes the residual as y_t − ŷ_t, so ∂L/∂ŷ_t has the wrong sign."""
import numpy as np
from student_math import DERIVATIVE


def output_error(trace):
    """My ∂L/∂ŷ_t, indexed t-1."""
    y, y_hat, T = trace["y"], trace["y_hat"], trace["T"]
    residual = y - y_hat                                      # bug: ŷ_t − y_t
    if trace["loss"] == "mean_squared_error":
        return 2.0 * residual / T
    if trace["loss"] == "binary_cross_entropy":
        return residual / (y_hat * (1.0 - y_hat))
    if trace["loss"] == "last_step_squared_error":
        return np.where(np.arange(T) == T - 1, residual, 0.0)
    return residual


def backward(trace):
    s, h, w = trace["s"], trace["h"], trace["w"]
    through_output = output_error(trace) * DERIVATIVE[trace["theta"]](h[1:])
    through_state = DERIVATIVE[trace["phi"]](s)
    ds = np.zeros_like(s)
    later = 0.0
    for t in range(trace["T"], 0, -1):
        later = (through_output[t - 1] + later * w) * through_state[t - 1]
        ds[t - 1] = later
    return {"dL_ds": ds, "dL_dw": ds @ h[:-1], "dL_dv": ds @ trace["x"], "dL_dh0": w * ds[0]}
