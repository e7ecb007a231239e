"""dWh += dWh: the accumulator is added to itself, so ∂L/∂Wh stays zero. The rest is right."""
import numpy as np
from correct import backward as correct_backward


def backward(trace):
    result = correct_backward(trace)
    dWh = np.zeros_like(trace["Wh"])
    for _ in range(result["dL_ds"].shape[1]):
        dWh += dWh                                                   # bug: the step's term never enters
    result["dL_dWh"] = dWh
    return result
