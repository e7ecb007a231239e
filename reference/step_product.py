"""A per-step array kept as the product it is: ∂L/∂x_t = ∂L/∂s_t·Wxᵀ, (N, T, D), held as
∂L/∂s_t (N, T, H) and Wx (D, H), with its parts computed when they are read. A large
problem's exercise holds its expected ∂L/∂x_t so (grader/contracts.py): one array of
(N, T, ·) fewer while a submission is graded.

Every element is computed within its fixed chunk of CHUNK_STEPS steps of its sequence,
whatever part is read: BLAS rounds a product's sums by the product's shape, so this is what
makes every read, and the whole, the same numbers. It reads as numpy does for basic indices
(ints and slices with step 1, no Ellipsis) of its axes in order, and `np.asarray` gives the
whole. Its numbers agree with one product over all steps up to rounding.
"""
from dataclasses import dataclass

import numpy as np

CHUNK_STEPS = 64


@dataclass(frozen=True, eq=False)
class StepProduct:
    factor: np.ndarray      # (N, T, H): ∂L/∂s_t at [:, t-1]
    weight: np.ndarray      # (D, H): each step's row of the product is factor·weightᵀ
    dtype = np.dtype(np.float64)
    ndim = 3

    @property
    def shape(self) -> tuple[int, int, int]:
        N, T, _ = self.factor.shape
        return N, T, self.weight.shape[0]

    @property
    def size(self) -> int:
        N, T, D = self.shape
        return N * T * D

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def __getitem__(self, index) -> np.ndarray:
        index = index if isinstance(index, tuple) else (index,)
        n, t, d = (*index, slice(None), slice(None), slice(None))[:3]
        N, T, _ = self.shape
        sequences, steps = _span(n, N), _span(t, T)
        part = np.empty((len(sequences), len(steps), self.shape[2]))
        chunks = range(steps.start - steps.start % CHUNK_STEPS, steps.stop, CHUNK_STEPS) if steps else range(0)
        for i, sequence in enumerate(sequences):
            for chunk in chunks:
                rows = self.factor[sequence, chunk:chunk + CHUNK_STEPS] @ self.weight.T
                lo, hi = max(chunk, steps.start), min(chunk + CHUNK_STEPS, steps.stop)
                part[i, lo - steps.start:hi - steps.start] = rows[lo - chunk:hi - chunk]
        return part[tuple(0 if isinstance(k, int) else slice(None) for k in (n, t)) + (d,)]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        whole = self[:, :]
        return whole if dtype is None else whole.astype(dtype, copy=False)


def _span(index: int | slice, length: int) -> range:
    """The positions an int or a slice of step 1 takes along an axis of `length`."""
    if isinstance(index, slice):
        start, stop, step = index.indices(length)
        if step != 1:
            raise IndexError("a StepProduct reads slices of step 1 only")
        return range(start, max(start, stop))
    position = int(index) + (length if index < 0 else 0)
    if not 0 <= position < length:
        raise IndexError(f"index {index} is out of bounds for an axis of size {length}")
    return range(position, position + 1)


def as_float64(value) -> "np.ndarray | StepProduct":
    """`value` as a float64 array, a StepProduct left as it is (not made whole)."""
    return value if isinstance(value, StepProduct) else np.asarray(value, dtype=np.float64)
