"""Does not parse."""
def backward(trace:
    return {}
