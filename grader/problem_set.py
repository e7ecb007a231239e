"""Load a problem set (YAML) into `grader.problems.ProblemSet`.

`load` reads at most MAX_FILE_BYTES of UTF-8, parses it as plain data with positions
(grader.yaml_positions), rejects numbers that are not finite, validates the data against
schemas/problem_set.schema.json with the registries' names as enums, runs the checks a
schema cannot express, and builds the frozen problems, drawing random params and data as
the schema's descriptions say. Every bad input is a ProblemSetError.
"""
import json
import keyword
import math
import os
from pathlib import Path

import numpy as np
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from grader.errors import ProblemSetError
from grader.problems import (DEFAULT_ATOL, DEFAULT_MEMORY_MB, DEFAULT_RTOL, DEFAULT_TIMEOUT,
                             Limits, Problem, ProblemSet, Tolerance)
from grader.yaml_positions import Document, Path as FieldPath, parse, position_in
from reference.activations import ACTIVATIONS, Activation
from reference.losses import LOSSES, Loss
from reference.scalar import GRADIENT_SHAPES

MAX_FILE_BYTES = 5 * 1024 * 1024
SCHEMA_FILE = Path(__file__).parent / "schemas" / "problem_set.schema.json"
DEFAULT_ENTRY_POINT = "backward"
POINTS_SUM_TOLERANCE = 1e-9

_KINDS = {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean",
          type(None): "null"}


def load(path: str | os.PathLike) -> ProblemSet:
    """The problem set in the YAML file at `path`; `ProblemSet.path` is `str(path)`."""
    file = str(path)
    document = parse(_read_text(file), file)
    if not isinstance(document.data, dict):
        raise document.error_at("the top level must be a mapping (schema_version, title, problems, …), "
                                f"not {_KINDS[type(document.data)]}", ())
    _check_finite(document, document.data, ())
    _check_schema(document)
    _check_entry_point(document)
    _check_unique_ids(document)
    for index, problem in enumerate(document.data["problems"]):
        _check_problem(document, problem, ("problems", index))
    return _problem_set(document)


def _schema() -> dict:
    """The problem-set schema, with the registries' names as the enums of its $defs."""
    loaded = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    for name, registry in (("activation", ACTIVATIONS), ("loss", LOSSES), ("gradient", GRADIENT_SHAPES)):
        loaded["$defs"][name]["enum"] = list(registry)
    return loaded


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


def _check_finite(document: Document, value, path: FieldPath):
    """Every number finite: YAML's .nan and .inf are floats that JSON Schema lets through."""
    if isinstance(value, (dict, list)):
        for key, item in (value.items() if isinstance(value, dict) else enumerate(value)):
            _check_finite(document, item, path + (key,))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            finite = math.isfinite(value)
        except OverflowError:
            raise document.error_at(f"an integer of {len(str(abs(value)))} digits is beyond the float range",
                                     path) from None
        if not finite:
            raise document.error_at(f"{value} is not a finite number", path)


def _check_schema(document: Document):
    """The error jsonschema's best_match picks, at the offending key for a bad or unexpected key."""
    error = best_match(Draft202012Validator(_schema()).iter_errors(document.data))
    if error is None:
        return
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties":
        unexpected = next(key for key in error.instance if key not in error.schema["properties"])
        raise document.error_at_key(error.message, path, unexpected)
    if "propertyNames" in error.absolute_schema_path:
        raise document.error_at_key(error.message, path, error.instance)
    raise document.error_at(error.message, path)


def _check_entry_point(document: Document):
    entry_point = document.data.get("entry_point", DEFAULT_ENTRY_POINT)
    if keyword.iskeyword(entry_point):
        raise document.error_at(f"{entry_point!r} is a Python keyword, so no function can have that name",
                                ("entry_point",))


def _check_unique_ids(document: Document):
    first_index = {}
    for index, problem in enumerate(document.data["problems"]):
        first = first_index.setdefault(problem["id"], index)
        if first != index:
            raise document.error_at(f"{problem['id']!r} is already the id of problems[{first}]",
                                    ("problems", index, "id"))


def _check_problem(document: Document, problem: dict, path: FieldPath):
    graded = math.fsum(problem["grade"].values())
    if abs(graded - problem["points"]) > POINTS_SUM_TOLERANCE:
        raise document.error_at(f"the graded outputs are worth {graded:g} points in all, "
                                f"but the problem is worth {problem['points']:g}", path + ("grade",))
    theta, loss = ACTIVATIONS[problem["model"]["theta"]], LOSSES[problem["model"]["loss"]]
    if loss.prediction_range and not _within(theta.output_range, loss.prediction_range):
        fitting = [name for name, activation in ACTIVATIONS.items()
                   if _within(activation.output_range, loss.prediction_range)]
        raise document.error_at(f"{loss.name} needs predictions in {loss.prediction_range}, but theta "
                                f"{theta.name!r} gives values in {theta.output_range}: use theta: "
                                + " or ".join(fitting), path + ("model", "theta"))
    data = problem["data"]
    if "random" in data:
        return
    if len(data["y"]) != len(data["x"]):
        raise document.error_at(f"x and y differ in length ({len(data['x'])} and {len(data['y'])}): "
                                "both need one value per time step", path + ("data", "y"))
    if loss.label_range:
        low, high = loss.label_range
        for index, label in enumerate(data["y"]):
            if not low <= label <= high:
                raise document.error_at(f"{label} is not a label {loss.name} accepts: "
                                        f"labels lie in [{low}, {high}]", path + ("data", "y", index))


def _within(inner: tuple[float, float], outer: tuple[float, float]) -> bool:
    return outer[0] <= inner[0] and inner[1] <= outer[1]


def _problem_set(document: Document) -> ProblemSet:
    data = document.data
    defaults = data.get("defaults", {})
    problems = tuple(_problem(problem, defaults, data.get("limits", {})) for problem in data["problems"])
    return ProblemSet(path=document.file, title=data["title"],
                      entry_point=data.get("entry_point", DEFAULT_ENTRY_POINT),
                      problems=problems, schema_version=data["schema_version"])


def _problem(problem: dict, defaults: dict, set_limits: dict) -> Problem:
    """A validated problem; tolerance and limits merged key by key (problem over set over defaults)."""
    model = problem["model"]
    w, v, h0 = _params(problem["params"])
    x, y = _sequences(problem["data"], ACTIVATIONS[model["theta"]], LOSSES[model["loss"]])
    tolerance = {**defaults.get("tolerance", {}), **problem.get("tolerance", {})}
    limits = {**defaults.get("limits", {}), **set_limits, **problem.get("limits", {})}
    return Problem(
        id=problem["id"], title=problem.get("title", problem["id"]), points=float(problem["points"]),
        visibility=problem.get("visibility", "visible"),
        phi=model["phi"], theta=model["theta"], loss=model["loss"], w=w, v=v, h0=h0, x=x, y=y,
        grade={name: float(points) for name, points in problem["grade"].items()},
        tolerance=Tolerance(rtol=float(tolerance.get("rtol", DEFAULT_RTOL)),
                            atol=float(tolerance.get("atol", DEFAULT_ATOL))),
        limits=Limits(timeout=float(limits.get("timeout", DEFAULT_TIMEOUT)),
                      memory_mb=int(limits.get("memory_mb", DEFAULT_MEMORY_MB))))


def _params(params: dict) -> tuple[float, float, float]:
    """(w, v, h0): given, or w, v, h0 = default_rng(seed).normal(0, scale, 3)."""
    if "random" in params:
        random = params["random"]
        w, v, h0 = np.random.default_rng(int(random["seed"])).normal(0, random["scale"], 3)
        return float(w), float(v), float(h0)
    return float(params["w"]), float(params["v"]), float(params.get("h0", 0.0))


def _sequences(data: dict, theta: Activation, loss: Loss) -> tuple[np.ndarray, np.ndarray]:
    """(x, y), read-only float64 of shape (T,): given, or x then y drawn from default_rng(seed)."""
    if "random" in data:
        rng = np.random.default_rng(int(data["random"]["seed"]))
        T = int(data["random"]["T"])
        x = rng.normal(0, 1, T)
        y = _random_targets(rng, T, theta, loss)
    else:
        x, y = np.array(data["x"], dtype=np.float64), np.array(data["y"], dtype=np.float64)
    x.flags.writeable = y.flags.writeable = False
    return x, y


def _random_targets(rng: np.random.Generator, T: int, theta: Activation, loss: Loss) -> np.ndarray:
    """y to suit the loss: 0/1 labels if it has a label range, else uniform over θ's range
    if that is bounded, else standard normal."""
    if loss.label_range:
        return rng.integers(0, 2, T).astype(np.float64)
    low, high = theta.output_range
    if math.isfinite(low) and math.isfinite(high):
        return rng.uniform(low, high, T)
    return rng.normal(0, 1, T)
