"""What the JSON report keeps of an output's expected and got arrays: both whole, up to
MAX_INLINE_NUMBERS numbers in the two together; beyond that an excerpt, so that the report stays small at
every problem size (`--full-arrays` writes the whole arrays to a side .npz instead).

An excerpt views the output as rows along one axis: for a per-timestep output its time axis
(row t is index t-1 along it, e.g. cs231n's dx[:, t-1, :]), for any other its first axis
(row i is index i). It keeps the rows around the first divergence (CONTEXT on each side) and
the LARGEST rows of largest error; of each kept row, whose elements are taken in C order
over the other axes of the submission's layout, at most ROW_NUMBERS consecutive elements
around the row's largest error, from 0-based position `start` on. Statistics over every
element stand for the rest."""
import numpy as np

from grader.compare import Comparison, largest

MAX_INLINE_NUMBERS = 10_000    # per output, expected and got together: more, and it gets an
                               # excerpt; and at most this many t in its diverging_timesteps
ROW_NUMBERS = 64               # elements kept of each kept row
CONTEXT = 2                    # rows kept on each side of the first divergence
LARGEST = 3                    # rows of largest error kept besides


def numbers(array: np.ndarray):
    """Plain floats (or nested lists of them, as the array's shape); non-finite values become null."""
    values = np.asarray(array, dtype=np.float64)
    finite = np.isfinite(values)
    if finite.all():
        return values.tolist()
    shown = values.astype(object)
    shown[~finite] = None
    return shown.tolist()


def values_json(c: Comparison, per_timestep: bool) -> dict:
    """The output's `expected` and `got` whole, or, above MAX_INLINE_NUMBERS numbers in the
    two, the excerpt: {"truncated": true, "shape", "axis", "rows", "statistics"}."""
    if 2 * c.expected.size <= MAX_INLINE_NUMBERS:       # got is as large (of the same shape)
        return {"expected": numbers(c.expected), "got": numbers(c.got)}
    return {"truncated": True, "shape": list(c.expected.shape), "axis": c.time_axis,
            "rows": [row_json(c, r, per_timestep) for r in kept_rows(c, per_timestep)],
            "statistics": statistics(c, per_timestep)}


def _worst_first(errors: np.ndarray) -> np.ndarray:
    """Indices of `errors` from the largest down (NaN counting as the largest; among equal
    ones, the smallest index first)."""
    return np.argsort(np.where(np.isnan(errors), -np.inf, -errors), kind="stable")


def kept_rows(c: Comparison, per_timestep: bool) -> list[int]:
    """0-based indices along c.time_axis (the time axis of a per-timestep output, else 0) of the
    rows kept, ascending: those within CONTEXT of the first divergence (per-timestep outputs)
    and the LARGEST rows of largest error."""
    row_errors = c.step_errors
    kept = {int(r) for r in _worst_first(row_errors)[:LARGEST]}
    t = c.first_divergence if per_timestep else None
    if t is not None:
        kept.update(range(max(0, t - 1 - CONTEXT), min(len(row_errors), t + CONTEXT)))
    return sorted(kept)


def row_json(c: Comparison, r: int, per_timestep: bool) -> dict:
    """Row `r` (0-based along c.time_axis): {"t": r + 1} or {"index": r}, with `start` and at
    most ROW_NUMBERS elements of `expected` and `got` from there, around the row's largest error."""
    errors = c.step_abs_error(r + 1)
    start = int(np.clip(largest(errors) - ROW_NUMBERS // 2, 0, max(0, errors.size - ROW_NUMBERS)))
    kept = slice(start, start + ROW_NUMBERS)
    where = {"t": r + 1} if per_timestep else {"index": r}
    return {**where, "start": start, "expected": numbers(c.step(c.expected, r + 1)[kept]),
            "got": numbers(c.step_got(r + 1)[kept])}


def statistics(c: Comparison, per_timestep: bool) -> dict:
    """Over every element: how many there are, how many diverge, the mean |error| over the
    finite ones (null when none is), and for a per-timestep output how many steps diverge."""
    errors = c.errors
    steps = {"diverging_steps": int(np.count_nonzero(c.diverging_steps))} if per_timestep else {}
    return {"elements": int(c.expected.size), "diverging": int(np.count_nonzero(c.diverging)), **steps,
            "mean_abs_error": errors.finite_sum / errors.finite if errors.finite else None}
