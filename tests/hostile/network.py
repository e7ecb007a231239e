"""Tries to reach a server on the grader's machine (targets.json names the port)."""
import json
import os
import socket

from correct import backward as honest

port = json.load(open(os.path.join(os.path.dirname(__file__), "targets.json")))["port"]


def backward(trace):
    if trace["T"] == 4:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).sendall(b"answers please")
            print("network: connected")
        except OSError:
            print("network: blocked")
    return honest(trace)
