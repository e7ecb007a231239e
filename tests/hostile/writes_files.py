"""Writes a file into its own folder and one into /tmp, and says which worked."""
import os

from correct import backward as honest

here = os.path.dirname(os.path.abspath(__file__))


def written(path):
    try:
        with open(path, "w") as f:
            f.write("planted")
        return True
    except OSError:
        return False


def backward(trace):
    if trace["T"] == 4:
        print("own folder:", written(os.path.join(here, "planted.txt")),
              "tmp:", written(f"/tmp/planted-{os.path.basename(here)}"))
    return honest(trace)
