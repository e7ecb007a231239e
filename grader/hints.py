"""One-line hints for errors that are not BPTT bugs but the age of the code: Python 2 names,
print statements and tab indentation, and names removed from numpy (np.float, np.int, …
since numpy 1.24). One registry entry each: (exception, pattern on its message, the hint
with the pattern's groups)."""
import re
from collections.abc import Callable

PYTHON_2 = {"xrange": "range", "raw_input": "input", "unicode": "str", "basestring": "str", "unichr": "chr",
            "long": "int", "reduce": "functools.reduce", "file": "open", "execfile": "exec(open(path).read())",
            "cmp": "(a > b) - (a < b)"}
NUMPY_REMOVED = {"float": "float or np.float64", "int": "int or np.int64", "bool": "bool or np.bool_",
                 "object": "object", "str": "str", "complex": "complex or np.complex128", "long": "int",
                 "unicode": "str"}

HINTS: list[tuple[str, str, Callable[[re.Match[str]], str]]] = [
    ("NameError", r"name '(" + "|".join(PYTHON_2) + r")' is not defined",
     lambda m: f"{m[1]} is Python 2: use {PYTHON_2[m[1]]}"),
    ("SyntaxError", r"Missing parentheses in call to 'print'",
     lambda m: "a Python 2 print statement: write print(…) as a function"),
    ("TabError", r"",
     lambda m: "tabs and spaces mixed in one indentation (Python 2 allowed it): indent with spaces only"),
    ("AttributeError", r"module 'numpy' has no attribute '(" + "|".join(NUMPY_REMOVED) + r")'",
     lambda m: f"np.{m[1]} was removed in numpy 1.24: use {NUMPY_REMOVED[m[1]]}"),
]


def hint(exception: str, message: str) -> str | None:
    """The hint for an exception of type `exception` with `message`, if one applies."""
    for kind, pattern, text in HINTS:
        found = re.search(pattern, message) if kind == exception else None
        if found:
            return text(found)
    return None
