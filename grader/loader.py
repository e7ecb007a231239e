"""Load a problem set (YAML) into `grader.problem_set.ProblemSet`.

`load` reads at most MAX_FILE_BYTES of UTF-8, parses it as plain data with positions
(grader.yaml_positions), rejects numbers that are not finite, validates the data against
schemas/problem_set.schema.json with the registries' names as enums, runs the checks a
schema cannot express, and builds the frozen problems, drawing random params and data as
the schema's descriptions say. Every bad input is a ProblemSetError. SizeCaps bounds what
a set may ask of the grader, checked before anything is drawn.
"""
import functools
import json
import keyword
import math
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from grader.contracts import CHAR_RNN_ARRAYS, CONTRACTS, vector_outputs
from grader.errors import ProblemSetError, ProblemSetErrors
from grader.problem_data import Drawn, Given, ProblemData, read_only
from grader.problem_set import (
    DEFAULT_ATOL,
    DEFAULT_MEMORY_MB,
    DEFAULT_RTOL,
    DEFAULT_TIMEOUT,
    Limits,
    ProblemSet,
    ScalarProblem,
    Tolerance,
    VectorProblem,
)
from grader.schema_validity import Check, compile_validity
from grader.size_caps import SizeCaps as SizeCaps  # re-exported: loader.SizeCaps is its public name
from grader.yaml_positions import Document, composes_fast, parse, position_in
from grader.yaml_positions import Path as FieldPath
from reference.activations import ACTIVATIONS, Activation
from reference.losses import LOSSES, Loss
from reference.scalar import GRADIENT_SHAPES
from reference.vector import OUTPUT_LAYER_GRADIENTS, UPSTREAM, Params

MAX_FILE_BYTES = 5 * 1024 * 1024
SCHEMA_FILE = Path(__file__).parent / "schemas" / "problem_set.schema.json"
DEFAULT_ENTRY_POINT = "backward"
DEFAULT_CONTRACT = "trace"
DEFAULT_PHI = "tanh"                # of a vector problem
CHAR_CONTRACT = "min-char-rnn"      # its problems give character indices (the schema's char_problem)
POINTS_SUM_TOLERANCE = 1e-9
DISTRIBUTION_TOLERANCE = 1e-9       # |Σ_o y_o − 1| for the targets of a loss over classes
# Where each array of a vector problem sits, and its shape in sizes.
VECTOR_SHAPES = {("params", "Wx"): "DH", ("params", "Wh"): "HH", ("params", "b"): "H", ("params", "h0"): "NH",
                 ("params", "Wy"): "HO", ("params", "by"): "O",
                 ("data", "x"): "NTD", ("data", "dh"): "NTH", ("data", "y"): "NTO"}
# … and of a min-char-rnn problem's explicit params, in min-char-rnn's own layout (V the vocab; 1: a column)
CHAR_SHAPES = {("params", "Wxh"): "HV", ("params", "Whh"): "HH", ("params", "Why"): "VH", ("params", "bh"): "H1",
               ("params", "by"): "V1", ("params", "hprev"): "H1"}

_KINDS = {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean",
          type(None): "null"}


def load(path: str | os.PathLike, caps: SizeCaps = SizeCaps()) -> ProblemSet:
    """The problem set in the YAML file at `path`; `ProblemSet.path` is `str(path)`.

    A file that is not YAML, or not a mapping, is one error. Otherwise every error is
    found: each non-finite number and each schema error; then, when the set's own fields
    are valid, the first error of each problem that passed the schema, each repeated id,
    and a total work over `caps.work`. One error is raised as itself, several as a
    ProblemSetErrors. Random values are drawn only for a set without errors."""
    file = str(path)
    text = _read_text(file)
    if composes_fast(text):
        try:
            return _load(parse(text, file, fast=True), caps)
        except (ProblemSetError, ProblemSetErrors):
            pass                                    # worded and placed by PyYAML's own composer, as ever
    return _load(parse(text, file), caps)


def _load(document: Document, caps: SizeCaps) -> ProblemSet:
    """`load`, from the parsed document."""
    if not isinstance(document.data, dict):
        raise document.error_at("the top level must be a mapping (schema_version, title, problems, …), "
                                f"not {_KINDS[type(document.data)]}", ())
    found = [*_non_finite(document, document.data, ()), *_schema_errors(document)]
    broken = {path[1] for path, _ in found if path[:1] == ("problems",) and len(path) > 1}
    work, vector_builds = 0, {}       # Σ N·T·H of the problems checked; index → a vector problem's builder
    if all(path[:1] == ("problems",) and len(path) > 1 for path, _ in found):     # the set's own fields are valid
        found += _entry_point_errors(document) + _repeated_ids(document)
        for index, problem in enumerate(document.data["problems"]):
            if index in broken:
                continue
            try:
                if _is_vector(document.data, problem):
                    steps, vector_builds[index] = _vector_problem(document, problem, ("problems", index), caps.numbers)
                else:
                    steps = _check_problem(document, problem, ("problems", index))
            except ProblemSetError as error:
                found.append((("problems", index), error))
                continue
            work += steps
    if work > caps.work:
        found.append((("problems",), document.error_at(
            f"the problems ask for {work:,} steps of work (Σ N·T·H, T for a scalar problem), more than "
            f"{caps.work:,}: make them smaller or fewer, or pass --max-work {work}", ("problems",))))
    if len(found) == 1:
        raise found[0][1]
    if found:
        raise ProblemSetErrors([error for _, error in found])
    return _problem_set(document, {index: build() for index, build in vector_builds.items()})


@functools.cache
def _schema() -> dict:
    """The problem-set schema, with the registries' names as the enums of its $defs (read once)."""
    loaded = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    for name, names in (("activation", ACTIVATIONS), ("loss", LOSSES), ("gradient", GRADIENT_SHAPES),
                        ("vector_loss", [UPSTREAM, *LOSSES]), ("vector_output", vector_outputs()),
                        ("contract", CONTRACTS)):
        loaded["$defs"][name]["enum"] = list(names)
    # the vector-only contracts whose problems are vector problems (min-char-rnn's are char_problem)
    loaded["if"]["properties"]["contract"]["enum"] = [c for c in _vector_only_contracts() if c != CHAR_CONTRACT]
    return loaded


@functools.cache
def _valid_by_schema() -> Check:
    """The schema compiled into a yes/no check (grader.schema_validity), once."""
    return compile_validity(_schema())


def _vector_only_contracts() -> list[str]:
    return [name for name, contract in CONTRACTS.items() if "scalar" not in contract.calls]


def _is_vector(data: dict, problem: dict) -> bool:
    """As the schema's `problem`: it gives sizes or params.Wx, or its contract has only vector calls."""
    return (data.get("contract") in _vector_only_contracts() or "sizes" in problem
            or "Wx" in problem["params"])


def _read_text(file: str) -> str:
    try:
        with open(file, "rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise ProblemSetError(f"cannot read {file}: {error.strerror or error}", file) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ProblemSetError(f"the file is larger than {MAX_FILE_BYTES:,} bytes (5 MB)", file)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        before = raw[:error.start].decode("utf-8")
        raise ProblemSetError(f"not UTF-8: byte 0x{raw[error.start]:02x} cannot be decoded",
                              file, *position_in(before, len(before))) from None


Found = list[tuple[FieldPath, ProblemSetError]]     # each error, with the path of what it is about


def _non_finite(document: Document, value, path: FieldPath) -> Found:
    """Every number that is not finite: YAML's .nan and .inf are floats that JSON Schema lets through."""
    if isinstance(value, (dict, list)):
        return [found for key, item in (value.items() if isinstance(value, dict) else enumerate(value))
                for found in _non_finite(document, item, path + (key,))]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            finite = math.isfinite(value)
        except OverflowError:
            return [(path, document.error_at(f"an integer of {len(str(abs(value)))} digits is beyond the float "
                                             "range", path))]
        if not finite:
            return [(path, document.error_at(f"{value} is not a finite number", path))]
    return []


def _schema_errors(document: Document) -> Found:
    """Each schema error, as jsonschema's best_match words it within its own branch, at the
    offending key for a bad or unexpected key."""
    if _valid_by_schema()(document.data):     # the usual case, without importing jsonschema
        return []
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match
    found: dict[str, tuple[FieldPath, ProblemSetError]] = {}      # by its message: each once
    for error in Draft202012Validator(_schema()).iter_errors(document.data):
        error = best_match([error])
        path = tuple(error.absolute_path)
        if error.validator == "additionalProperties":
            unexpected = next(key for key in error.instance if key not in error.schema["properties"])
            described = document.error_at_key(error.message, path, unexpected)
        elif "propertyNames" in error.absolute_schema_path:
            described = document.error_at_key(error.message, path, error.instance)
        else:
            described = document.error_at(error.message, path)
        found.setdefault(described.describe(), (path, described))
    return list(found.values())


def _entry_point_errors(document: Document) -> Found:
    contract = document.data.get("contract", DEFAULT_CONTRACT)
    path = ("entry_point",)
    if "entry_point" in document.data and contract != DEFAULT_CONTRACT:
        functions = sorted({f for call in CONTRACTS[contract].calls.values() for f in call.functions})
        return [(path, document.error_at(f"entry_point names the trace contract's function; {contract} submissions "
                                         f"define {', '.join(functions)}", path))]
    entry_point = document.data.get("entry_point", DEFAULT_ENTRY_POINT)
    if keyword.iskeyword(entry_point):
        return [(path, document.error_at(f"{entry_point!r} is a Python keyword, so no function can have that name",
                                         path))]
    return []


def _repeated_ids(document: Document) -> Found:
    """Each problem whose id (a string, even in a problem with other errors) an earlier one has."""
    first_index: dict[str, int] = {}
    found: Found = []
    for index, problem in enumerate(document.data["problems"]):
        if not (isinstance(problem, dict) and isinstance(problem.get("id"), str)):
            continue
        first = first_index.setdefault(problem["id"], index)
        if first != index:
            path: FieldPath = ("problems", index, "id")
            found.append((path, document.error_at(f"{problem['id']!r} is already the id of problems[{first}]", path)))
    return found


def _check_points(document: Document, problem: dict, path: FieldPath):
    graded = math.fsum(problem["grade"].values())
    if abs(graded - problem["points"]) > POINTS_SUM_TOLERANCE:
        raise document.error_at(f"the graded outputs are worth {graded:g} points in all, "
                                f"but the problem is worth {problem['points']:g}", path + ("grade",))


def _check_theta_fits_loss(document: Document, theta: Activation, loss: Loss, path: FieldPath):
    if loss.prediction_range and not _within(theta.output_range, loss.prediction_range):
        fitting = [name for name, activation in ACTIVATIONS.items()
                   if _within(activation.output_range, loss.prediction_range)]
        raise document.error_at(f"{loss.name} needs predictions in {loss.prediction_range}, but theta "
                                f"{theta.name!r} gives values in {theta.output_range}: use theta: "
                                + " or ".join(fitting), path)


def _check_problem(document: Document, problem: dict, path: FieldPath) -> int:
    """Check a scalar problem beyond the schema; returns its work, T."""
    _check_points(document, problem, path)
    theta, loss = ACTIVATIONS[problem["model"]["theta"]], LOSSES[problem["model"]["loss"]]
    if loss.classes:
        raise document.error_at(f"{loss.name} scores O ≥ 2 classes per step, and the scalar model has one "
                                "output: use it in a vector problem (with sizes: {N, T, D, H, O})",
                                path + ("model", "loss"))
    _check_theta_fits_loss(document, theta, loss, path + ("model", "theta"))
    data = problem["data"]
    if "random" in data:
        return data["random"]["T"]
    if len(data["y"]) != len(data["x"]):
        raise document.error_at(f"x and y differ in length ({len(data['x'])} and {len(data['y'])}): "
                                "both need one value per time step", path + ("data", "y"))
    if loss.label_range:
        low, high = loss.label_range
        for index, label in enumerate(data["y"]):
            if not low <= label <= high:
                raise document.error_at(f"{label} is not a label {loss.name} accepts: "
                                        f"labels lie in [{low}, {high}]", path + ("data", "y", index))
    return len(data["x"])


def _within(inner: tuple[float, float], outer: tuple[float, float]) -> bool:
    return outer[0] <= inner[0] and inner[1] <= outer[1]


def _problem_set(document: Document, vector_problems: dict[int, dict]) -> ProblemSet:
    """The set; vector_problems holds, by index, the fields of the vector problems, already built."""
    data = document.data
    settings = _settings(data.get("defaults", {}), data.get("limits", {}), data.get("shape_policy", "strict"))
    problems = tuple(VectorProblem(**vector_problems[index], **settings(problem)) if index in vector_problems
                     else _problem(problem, settings) for index, problem in enumerate(data["problems"]))
    return ProblemSet(path=document.file, title=data["title"],
                      entry_point=data.get("entry_point", DEFAULT_ENTRY_POINT),
                      problems=problems,
                      contract=data.get("contract", DEFAULT_CONTRACT))


def _settings(defaults: dict, set_limits: dict, shape_policy: str):
    """problem → the fields every problem has: id, title, points, visibility, grade, the set's
    shape policy, and its tolerance and limits merged key by key (problem over set over defaults)."""
    def settings(problem: dict) -> dict:
        tolerance = {**defaults.get("tolerance", {}), **problem.get("tolerance", {})}
        limits = {**defaults.get("limits", {}), **set_limits, **problem.get("limits", {})}
        return dict(
            id=problem["id"], title=problem.get("title", problem["id"]), points=float(problem["points"]),
            visibility=problem.get("visibility", "visible"),
            grade={name: float(points) for name, points in problem["grade"].items()},
            tolerance=Tolerance(rtol=float(tolerance.get("rtol", DEFAULT_RTOL)),
                                atol=float(tolerance.get("atol", DEFAULT_ATOL))),
            limits=Limits(timeout=float(limits.get("timeout", DEFAULT_TIMEOUT)),
                          memory_mb=int(limits.get("memory_mb", DEFAULT_MEMORY_MB))),
            shape_policy=shape_policy)
    return settings


def _problem(problem: dict, settings) -> ScalarProblem:
    """A validated scalar problem."""
    model = problem["model"]
    w, v, h0 = _params(problem["params"])
    return ScalarProblem(phi=model["phi"], theta=model["theta"], loss=model["loss"], w=w, v=v, h0=h0,
                         data=_sequences(problem["data"], model["theta"], model["loss"]), **settings(problem))


def _params(params: dict) -> tuple[float, float, float]:
    """(w, v, h0): given, or w, v, h0 = default_rng(seed).normal(0, scale, 3)."""
    if "random" in params:
        random = params["random"]
        w, v, h0 = np.random.default_rng(int(random["seed"])).normal(0, random["scale"], 3)
        return float(w), float(v), float(h0)
    return float(params["w"]), float(params["v"]), float(params.get("h0", 0.0))


def _sequences(data: dict, theta: str, loss: str) -> ProblemData:
    """x and y, of shape (T,): given, or drawn from the seed when asked for."""
    if "random" in data:
        T = int(data["random"]["T"])
        return Drawn(int(data["random"]["seed"]), (T,), (T,), theta, loss)
    return Given(np.array(data["x"], dtype=np.float64), np.array(data["y"], dtype=np.float64))


def _vector_problem(document: Document, problem: dict, path: FieldPath,
                    max_numbers: int) -> tuple[int, Callable[[], dict]]:
    """Check a vector problem beyond the schema: its work N·T·H, and what draws and returns
    its own fields of VectorProblem."""
    _check_points(document, problem, path)
    contract = CONTRACTS[document.data.get("contract", DEFAULT_CONTRACT)]
    if contract.name == CHAR_CONTRACT:
        problem = _char_problem(document, problem, path, max_numbers)
    step = problem.get("step", False)
    call = contract.calls.get("step" if step else "sequence")
    if call is None:
        raise document.error_at(f"the {contract.name} contract has no single-step functions: leave out step "
                                "(or use a contract that has them, such as cs231n)", path + ("step",))
    for name in problem["grade"]:
        if name not in call.outputs:
            kind = "a step problem" if step else "a vector problem"
            raise document.error_at_key(f"{name!r} is not an output of the {contract.name} contract for {kind}: "
                                        f"grade some of {list(call.outputs)}", path + ("grade",), name)
    model = problem["model"]
    upstream = model["loss"] == UPSTREAM
    if upstream and "theta" in model:
        raise document.error_at("the upstream loss scores h_t itself, so there is no output layer and no theta",
                                path + ("model", "theta"))
    for name in problem["grade"]:
        if upstream and call.outputs[name].source in OUTPUT_LAYER_GRADIENTS:
            raise document.error_at_key(f"{name} is the output layer's, and the upstream loss has none",
                                        path + ("grade",), name)
    theta = None if upstream else ACTIVATIONS[model.get("theta", "identity")]
    loss = None if upstream else LOSSES[model["loss"]]
    if loss and theta:
        _check_theta_fits_loss(document, theta, loss, path + ("model", "theta" if "theta" in model else "loss"))
    output_layer = not upstream or any(out.source == "y_pred" for out in call.outputs.values())
    params = problem["params"]
    if "random" not in params and output_layer and "Wy" not in params:
        raise document.error_at("the output layer (ŷ_t = θ(h_t·Wy + by), or Coursera's y_pred) needs Wy (H, O)",
                                path + ("params",))
    for name in ("Wy", "by"):
        if name in params and not output_layer:
            raise document.error_at(f"{name} belongs to an output layer, and this problem has none "
                                    "(the upstream loss, and a contract that returns no y_pred)",
                                    path + ("params", name))
    needed = "NTDH" + ("O" if output_layer else "")
    sizes, arrays = _vector_sizes(document, problem, path, needed, max_numbers)
    _check_vector_contents(document, problem, path, sizes, arrays, output_layer, loss, step)
    theta_name = None if theta is None else theta.name
    return sizes["N"] * sizes["T"] * sizes["H"], lambda: dict(
        contract=contract.name, step=step, phi=model.get("phi", DEFAULT_PHI), theta=theta_name, loss=model["loss"],
        params=_vector_params(problem["params"], sizes, arrays, output_layer),
        data=_vector_data(problem["data"], sizes, arrays, theta_name, model["loss"]))


def _char_problem(document: Document, problem: dict, path: FieldPath, max_numbers: int) -> dict:
    """A min-char-rnn problem as the vector problem it is: N = 1, x_t and y_t the one-hot rows
    of its inputs and targets over D = O = vocab, tanh, a softmax output layer and the
    cross-entropy, params drawn or given in min-char-rnn's layout (its size checked before
    the one-hot rows are built). H is hidden_size, else the explicit params'; the vocab is
    data's, else the explicit params', else one more than the largest index."""
    data = problem["data"]
    bound = {"H": (problem["hidden_size"], "hidden_size")} if "hidden_size" in problem else {}
    if "random" in data:
        random = data["random"]
        chars = np.random.default_rng(int(random["seed"])).integers(0, random["vocab"], random["T"] + 1)
        inputs, targets = chars[:-1], chars[1:]
        bound["V"] = (random["vocab"], "data.random.vocab")
    else:
        inputs, targets = data["inputs"], data["targets"]
        if len(targets) != len(inputs):
            raise document.error_at(f"has {len(targets)} indices where inputs has {len(inputs)}: "
                                    "each input character has one target", path + ("data", "targets"))
        if "vocab" in data:
            bound["V"] = (data["vocab"], "data.vocab")
    arrays = _shaped_arrays(document, problem, path, CHAR_SHAPES, bound)
    vocab = bound["V"][0] if "V" in bound else max(inputs + targets) + 1
    if "random" not in data:
        for name in ("inputs", "targets"):
            outside = [i for i, char in enumerate(data[name]) if char >= vocab]
            if outside:
                raise document.error_at(f"{data[name][outside[0]]} is not a character index of a vocab of "
                                        f"{vocab} (0..{vocab - 1})", path + ("data", name, outside[0]))
        if vocab < 2:
            raise document.error_at("the softmax needs a vocab of at least 2 characters: give vocab"
                                    + (f" (V = {vocab} from {bound['V'][1]})" if "V" in bound else ""),
                                    path + ("data",))
    sizes = {"N": 1, "T": len(inputs), "D": vocab, "H": bound["H"][0], "O": vocab}
    _check_numbers(document, sizes, path + ("data",), max_numbers)
    x, y = np.zeros((2, 1, sizes["T"], vocab))
    x[0, np.arange(sizes["T"]), inputs] = y[0, np.arange(sizes["T"]), targets] = 1.0
    params = {CHAR_RNN_ARRAYS[name][0]: CHAR_RNN_ARRAYS[name][1].to_reference(array).tolist()
              for name, array in arrays.items()} or problem["params"]
    return {**{key: value for key, value in problem.items() if key not in ("hidden_size", "data", "params")},
            "sizes": sizes, "params": params,
            "model": {"phi": "tanh", "theta": "identity", "loss": "softmax_cross_entropy"},
            "data": {"x": x.tolist(), "y": y.tolist()}}


def _rectangular(document: Document, value: list, path: FieldPath) -> np.ndarray:
    """Nested lists (numbers at one depth, as the schema ensures) as a float64 array, or an
    error at the first list whose length differs from the first list at its depth."""
    def check(item, where, depth):
        if depth == len(shape):
            return
        if len(item) != shape[depth]:
            first = f"{path[-1]}{'[0]' * depth}"
            raise document.error_at(f"has {len(item)} entries where {first} has {shape[depth]}: "
                                    "an array must be rectangular", where)
        for index, inner in enumerate(item):
            check(inner, where + (index,), depth + 1)

    shape, level = [], value
    while isinstance(level, list):
        shape.append(len(level))
        level = level[0]
    check(value, path, 0)
    return np.array(value, dtype=np.float64)


def _vector_sizes(document: Document, problem: dict, path: FieldPath, needed: str,
                  max_numbers: int) -> tuple[dict, dict]:
    """(sizes by letter, the explicit arrays by name): sizes as declared, else as the first
    explicit array (in VECTOR_SHAPES order) to show them fixes them; every array must fit,
    and all of them together hold at most `max_numbers` numbers."""
    bound = {letter: (size, f"sizes.{letter}") for letter, size in problem.get("sizes", {}).items()}
    arrays = _shaped_arrays(document, problem, path, VECTOR_SHAPES, bound)
    missing = [letter for letter in needed if letter not in bound]
    if missing:
        raise document.error_at(f"no size {missing[0]}: give sizes: {{{', '.join(needed)}}} "
                                "(needed to draw random params or data)", path)
    sizes = {letter: size for letter, (size, _) in bound.items()}
    _check_numbers(document, sizes, path + ("sizes",) if "sizes" in problem else path, max_numbers)
    return sizes, arrays


def _shaped_arrays(document: Document, problem: dict, path: FieldPath, shapes: dict,
                   bound: dict[str, tuple[int, str]]) -> dict[str, np.ndarray]:
    """The explicit arrays of `shapes` ((section, name) → the letters of its axes; a digit is
    that size) by name, each of the sizes in `bound` (letter → (size, where it comes from));
    a size not yet in `bound` is bound by the first array to show it."""
    arrays = {}
    for (section, name), letters in shapes.items():
        if name not in problem[section]:
            continue
        where = path + (section, name)
        array = _rectangular(document, problem[section][name], where)
        for letter, extent in zip(letters, array.shape, strict=False):     # the schema fixes each array's rank
            size, source = (int(letter), "") if letter.isdigit() else bound.setdefault(
                letter, (extent, f"{section}.{name}"))
            if size != extent:
                wanted = tuple(int(other) if other.isdigit() else bound[other][0] if other in bound
                               else array.shape[letters.index(other)] for other in letters)     # unbound: as given
                reason = f"{letter} = {size} from {source}" if source else "a column vector has one column"
                raise document.error_at(f"has shape {array.shape}, not ({', '.join(letters)}) = {wanted}: {reason}",
                                        where)
        arrays[name] = array
    return arrays


def _check_numbers(document: Document, sizes: dict, where: FieldPath, max_numbers: int):
    """That a vector problem's arrays hold at most `max_numbers` numbers together."""
    numbers = sizes["N"] * sizes["T"] * (sizes["D"] + sizes["H"] + sizes.get("O", 0)) + sizes["H"] * (
        sizes["D"] + sizes["H"] + sizes.get("O", 0))
    if numbers > max_numbers:
        raise document.error_at(f"its arrays would hold {numbers:,} numbers, more than {max_numbers:,}: "
                                f"make N, T, D, H or O smaller, or pass --max-numbers {numbers}", where)


def _check_vector_contents(document: Document, problem: dict, path: FieldPath, sizes: dict, arrays: dict,
                           output_layer: bool, loss: Loss | None, step: bool):
    """What the data must hold for the loss, the output layer, and a step problem."""
    if step and sizes["T"] != 1:
        raise document.error_at(f"a step problem has one step, T = 1 (not {sizes['T']})",
                                path + ("sizes", "T") if "sizes" in problem else path + ("data", "x"))
    data = problem["data"]
    if "random" in data:
        return
    wanted, unwanted = ("dh", "y") if loss is None else ("y", "dh")
    if unwanted in data:
        raise document.error_at(f"{unwanted} is not data for the {'upstream' if loss is None else loss.name} loss: "
                                f"give {wanted}", path + ("data", unwanted))
    if wanted not in data:
        raise document.error_at(f"the {'upstream' if loss is None else loss.name} loss needs data.{wanted}",
                                path + ("data",))
    if loss is not None and loss.classes:
        if sizes["O"] < 2:
            raise document.error_at(f"{loss.name} needs at least 2 classes (O = {sizes['O']})", path + ("data", "y"))
        y = arrays["y"]
        bad = (y < 0).any(axis=-1) | (np.abs(y.sum(axis=-1) - 1) > DISTRIBUTION_TOLERANCE)
        if bad.any():
            n, t = (int(i) for i in np.argwhere(bad)[0])
            raise document.error_at(f"is not a distribution over the {sizes['O']} classes: {loss.name} needs "
                                    "one-hot rows or probabilities (≥ 0, summing to 1)", path + ("data", "y", n, t))
    elif loss is not None and loss.label_range:
        low, high = loss.label_range
        outside = np.argwhere((arrays["y"] < low) | (arrays["y"] > high))
        if outside.size:
            n, t, o = outside[0]
            raise document.error_at(f"{arrays['y'][n, t, o]:g} is not a label {loss.name} accepts: labels lie in "
                                    f"[{low}, {high}]", path + ("data", "y", int(n), int(t), int(o)))


def _vector_params(params: dict, sizes: dict, arrays: dict, output_layer: bool) -> Params:
    """Given (b, h0, by default to zeros), or drawn: Wx, Wh, b, h0, then Wy, by, each
    default_rng(seed).normal(0, scale, shape) in that order."""
    shapes = {name: tuple(sizes[letter] for letter in VECTOR_SHAPES["params", name])
              for name in ("Wx", "Wh", "b", "h0") + (("Wy", "by") if output_layer else ())}
    if "random" in params:
        rng = np.random.default_rng(int(params["random"]["seed"]))
        drawn = {name: rng.normal(0, params["random"]["scale"], shape) for name, shape in shapes.items()}
    else:
        drawn = {name: arrays.get(name, np.zeros(shape)) for name, shape in shapes.items()}
    return Params(**{name: read_only(array) for name, array in drawn.items()})


def _vector_data(data: dict, sizes: dict, arrays: dict, theta: str | None, loss: str) -> ProblemData:
    """x (N, T, D) and the target, dh (N, T, H) for the upstream loss (theta None) or y
    (N, T, O): given (in `arrays`), or drawn from the seed when asked for."""
    upstream = theta is None
    if "random" in data:
        N, T = sizes["N"], sizes["T"]
        return Drawn(int(data["random"]["seed"]), (N, T, sizes["D"]), (N, T, sizes["H" if upstream else "O"]),
                     theta, loss)
    return Given(arrays["x"], arrays["dh" if upstream else "y"])
