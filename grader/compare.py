"""Compare a submission's gradient with the reference's, element by element.

An element diverges when |got − expected| > atol + rtol·|expected|. Per-timestep outputs
hold step t at index t-1 along their time axis (axis 0 of the scalar model's (T,) arrays);
a step diverges when any of its elements does. BPTT computes gradients from t = T down to 1,
so their *first* divergence is the largest diverging t; a forward value (h_t) is computed
from t = 1 up, so its first divergence is the smallest.
"""
import functools
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np

from grader.problem_set import Tolerance
from reference.step_product import as_float64

Order = Literal["backward", "forward"]     # BPTT's (t = T first) or the forward pass's (t = 1 first)
BLOCK_ELEMENTS = 1 << 18       # of an array worked on at a time, so that temporaries stay small
COMPARED_ELEMENTS = 1 << 16    # of an array compared at a time, element by element


@dataclass(frozen=True)
class Errors:
    """What one pass over |got − expected| gives, kept in place of it (T numbers)."""
    steps: np.ndarray       # (T,): the largest |error| of step t (index t-1), NaN where the step has a NaN
    finite: int             # how many elements have a finite |error|
    finite_sum: float       # the sum of those, added a block of rows at a time


@dataclass(frozen=True)
class Comparison:
    expected: np.ndarray           # or a StepProduct (reference.step_product), read a part at a time
    got: np.ndarray
    diverging: np.ndarray          # bool, same shape as expected
    time_axis: int = 0             # where t runs, for a per-timestep output
    order: Order = "backward"

    def index(self, block: tuple[slice, ...]) -> tuple[slice, ...]:
        """The index, in the output's layout, of `block`: () (the whole) or (a slice of rows
        along the time axis,), i.e. of steps t = start + 1 … for a per-timestep output."""
        return (slice(None),) * self.time_axis + block if block else ()

    def got_part(self, block: tuple[slice, ...]) -> np.ndarray:
        """got's rows of `block` (`index`), in got's layout."""
        return self.got[self.index(block)]

    def abs_error_parts(self) -> Iterator[tuple[tuple[slice, ...], np.ndarray]]:
        """(index, |got − expected| there) for consecutive blocks of rows along the time axis
        (`blocks`: at most COMPARED_ELEMENTS elements, at least one row), covering the output
        in order: |error| is never whole, as it is as large as the output."""
        for block in blocks(self._steps_first_shape, COMPARED_ELEMENTS):
            index = self.index(block)
            error = np.asarray(self.got_part(block) - self.expected[index])
            yield index, np.abs(error, out=error)

    @property
    def passed(self) -> bool:
        return not self.diverging.any()

    @property
    def max_abs_error(self) -> float:
        return float(np.max(self.step_errors, initial=0.0))

    @property
    def _steps_first_shape(self) -> tuple[int, ...]:
        """The output's shape with its time axis first (() for a number)."""
        shape = np.shape(self.expected)
        return (shape[self.time_axis], *shape[:self.time_axis], *shape[self.time_axis + 1:]) if shape else ()

    def step(self, array, t: int) -> np.ndarray:
        """Step t of `array` (index t-1 along the time axis), its other axes flattened in C order:
        a copy of that step alone, whatever `array`'s strides (np.take would copy it whole),
        and of a StepProduct (reference.step_product) that step alone is computed."""
        return np.moveaxis(np.asarray(array[self.index((slice(t - 1, t),))]), self.time_axis, 0)[0].ravel()

    def step_got(self, t: int) -> np.ndarray:
        """Step t of got, as `step` lays it out: of that step alone."""
        return self.step(self.got_part((slice(t - 1, t),)), 1)

    def step_abs_error(self, t: int) -> np.ndarray:
        """|got − expected| at step t, as `step` lays it out: of that step alone."""
        return np.abs(self.step_got(t) - self.step(self.expected, t))

    @property
    def _other_axes(self) -> tuple[int, ...]:
        return tuple(axis for axis in range(self.diverging.ndim) if axis != self.time_axis)

    @property
    def diverging_steps(self) -> np.ndarray:
        """(T,) bool: whether step t (index t-1) has a diverging element."""
        return np.asarray(self.diverging.any(axis=self._other_axes)) if self._other_axes else self.diverging

    @functools.cached_property
    def errors(self) -> Errors:
        """|error| summed up in one pass, a block of rows at a time (`abs_error_parts`); kept
        once asked, unlike |error| itself."""
        steps, finite, finite_sum = [], 0, 0.0
        for _, error in self.abs_error_parts():
            steps.append(np.max(error, axis=self._other_axes))
            counted = np.isfinite(error)
            finite += int(np.count_nonzero(counted))
            finite_sum += float(np.sum(error, where=counted))
        return Errors(np.concatenate(steps) if self.expected.ndim else steps[0], finite, finite_sum)

    @property
    def step_errors(self) -> np.ndarray:
        """(T,): the largest |error| of step t (index t-1), NaN where the step has a NaN."""
        return self.errors.steps

    @property
    def diverging_timesteps(self) -> list[int]:
        """1-based t of every diverging step, in this output's order."""
        steps = np.flatnonzero(self.diverging_steps) + 1
        return [int(t) for t in (steps if self.order == "forward" else steps[::-1])]

    @property
    def first_divergence(self) -> int | None:
        if self.order == "forward":
            where = np.flatnonzero(self.diverging_steps)
            return int(where[0]) + 1 if where.size else None
        return first_divergence(self.diverging_steps)

    def at_step(self, t: int) -> tuple[float, float, float]:
        """(expected, got, |error|) at step t: the element itself for (T,) arrays, else the
        element of step t with the largest error."""
        expected, got = self.step(self.expected, t), self.step_got(t)
        errors = np.abs(got - expected)
        i = largest(errors)
        return float(expected[i]), float(got[i]), float(errors[i])

    def _worst(self, t: int) -> int:
        """The flat index, within step t, of its element with the largest error (NaN first)."""
        return largest(self.step_abs_error(t))

    def element_at_step(self, t: int) -> tuple[int, ...]:
        """The index of step t's element with the largest error, over the axes other than
        t's in the output's layout (e.g. (n, j) of dx (N, T, D)); () for (T,) arrays."""
        if self.expected.ndim <= 1:
            return ()
        return tuple(int(i) for i in np.unravel_index(self._worst(t), self._steps_first_shape[1:]))

    def largest_error_at(self) -> tuple[int, ...]:
        """The index of the element with the largest error (NaN first; among equal ones the
        first in C order, for an output whose time axis is its first)."""
        at: tuple[int, ...] = ()
        largest_error = -np.inf
        for index, errors in self.abs_error_parts():
            i = np.unravel_index(largest(errors), errors.shape)
            error = np.inf if np.isnan(errors[i]) else errors[i]
            if error > largest_error:
                start = index[self.time_axis].start if index else 0
                at, largest_error = tuple(int(n) + (start if axis == self.time_axis else 0)
                                          for axis, n in enumerate(i)), error
        return at


def largest(errors: np.ndarray) -> int:
    """The flat index of the largest of `errors`, a NaN counting as larger than any number."""
    return int(np.argmax(np.where(np.isnan(errors), np.inf, errors)))


def first_divergence(diverging: np.ndarray) -> int | None:
    """The largest 1-based t with diverging[t-1], i.e. the first in BPTT order; None if none."""
    where = np.flatnonzero(diverging)
    return int(where[-1]) + 1 if where.size else None


def blocks(shape: tuple[int, ...], elements: int = BLOCK_ELEMENTS) -> Iterator[tuple[slice, ...]]:
    """Indices of consecutive blocks of the first axis of an array of `shape`, each of at
    most `elements` elements (at least one index along it); the whole of a 0-d array."""
    if not shape:
        yield ()
        return
    step = max(1, elements // max(1, math.prod(shape[1:])))
    yield from ((slice(start, start + step),) for start in range(0, shape[0], step))


def fine_blocks(shape: tuple[int, ...], elements: int = COMPARED_ELEMENTS) -> Iterator[tuple[slice, ...]]:
    """Like `blocks`, but where one index of the first axis holds more than `elements`
    elements, each index is split along the next axes in turn: for work element by element."""
    if len(shape) <= 1 or math.prod(shape[1:]) <= elements:
        yield from blocks(shape, elements)
        return
    for i in range(shape[0]):
        yield from ((slice(i, i + 1), *rest) for rest in fine_blocks(shape[1:], elements))


def part(a, block: tuple[slice, ...], shape: tuple[int, ...]):
    """The part of `a`, broadcast to `shape`, that `block` (indices of shape's first axes) takes."""
    lead = len(shape) - np.ndim(a)
    index = tuple(block[lead + j] if lead + j < len(block) and n != 1 else slice(None)
                  for j, n in enumerate(np.shape(a)))
    return a[index] if index else a


def diverges(expected: np.ndarray, got: np.ndarray, tolerance: Tolerance, slack=0.0) -> np.ndarray:
    """Whether |got − expected| > atol + rtol·|expected| + slack, element by element (NaN
    diverges); bool, of the three's broadcast shape (`assembled`'s view where none does).
    Computed a block at a time (`fine_blocks`), so that its temporaries stay small whatever
    the size."""
    shape = np.broadcast_shapes(np.shape(expected), np.shape(got), np.shape(slack))
    return assembled(shape, ((block, _diverging(part(expected, block, shape), part(got, block, shape),
                                                part(slack, block, shape), tolerance))
                             for block in fine_blocks(shape)))


def assembled(shape: tuple[int, ...], parts: Iterable[tuple[tuple[slice, ...], np.ndarray]]) -> np.ndarray:
    """The bool array of `shape` whose blocks are `parts` ((block, its values), covering it);
    where none has a True, a read-only view of one False in that shape, so that a passing
    comparison holds no array as large as its output (nor allocates one)."""
    whole: np.ndarray | None = None
    for block, values in parts:
        if values.any():
            if whole is None:
                whole = np.zeros(shape, dtype=bool)
            whole[block] = values
    return np.broadcast_to(np.False_, shape) if whole is None else whole


def _diverging(expected, got, slack, tolerance: Tolerance) -> np.ndarray:
    """~(|got − expected| <= atol + rtol·|expected| + slack), the same numbers computed in
    place where they can be, so that two temporaries as large as the operands are alive."""
    error = np.asarray(got - expected)
    np.abs(error, out=error)
    bound = np.abs(expected) * tolerance.rtol
    bound += tolerance.atol
    if np.shape(bound) == np.broadcast_shapes(np.shape(bound), np.shape(slack)):
        bound += slack
    else:
        bound = bound + slack
    return ~(error <= bound)


def compare(expected, got, tolerance: Tolerance, time_axis: int = 0, order: Order = "backward") -> Comparison:
    """`expected` (an array, or a StepProduct, which stays one) against `got`."""
    expected, got = as_float64(expected), np.asarray(got, dtype=np.float64)
    return Comparison(expected, got, diverges(expected, got, tolerance), time_axis, order)
