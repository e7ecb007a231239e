"""Loops forever at import time: top-level code runs before any call."""
while True:
    pass
