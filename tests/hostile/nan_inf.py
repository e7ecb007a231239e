"""Answers honestly except a NaN in ∂L/∂s_2 and an infinite ∂L/∂w."""
import math

from correct import backward as honest


def backward(trace):
    answer = honest(trace)
    answer["dL_ds"][1] = math.nan
    answer["dL_dw"] = math.inf
    return answer
