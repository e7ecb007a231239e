"""Returns a 50-million-element ∂L/∂s (400 MB) and honest scalars."""
import numpy as np
from correct import backward as honest


def backward(trace):
    return {**honest(trace), "dL_ds": np.zeros(50_000_000)}
