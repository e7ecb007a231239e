"""∂L/∂h_0 returned as ∂L/∂s_1, without the factor Whᵀ. Everything else is right."""
from correct import backward as correct_backward


def backward(trace):
    result = correct_backward(trace)
    result["dL_dh0"] = result["dL_ds"][:, 0]                         # bug: ∂L/∂s_1·Whᵀ belongs
    return result
