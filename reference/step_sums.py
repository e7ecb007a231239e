"""Parameter gradients as sums over steps of a given ∂L/∂s_t, each also with one term
changed: what the per-term check (grader/term_check.py) holds a submission's gradient
against. Written once, in the batched layout of reference.vector (0-based arrays, 1-based t):
x (N, T, D), h (N, T+1, H) with h[:, 0] = h_0, ∂L/∂s_t (N, T, H) and the recurrent weight
Wh (H, H). A model says which of its gradients is which sum (Model.term_sums); the scalar
model is the case N = D = H = 1, with Wh = w and Wx = v.

    recurrent      Σ_t h_{t−1}ᵀ·∂L/∂s_t     (∂L/∂Wh, ∂L/∂w)
    input          Σ_t x_tᵀ·∂L/∂s_t         (∂L/∂Wx, ∂L/∂v)
    bias           Σ_t Σ_n ∂L/∂s_t          (∂L/∂b)
    initial_state  ∂L/∂s_1·Whᵀ              (∂L/∂h_0)
"""
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np

Sum = Literal["recurrent", "input", "bias", "initial_state"]
TERM_BUDGET = 5_000_000     # one-term alternatives are built up to this many elements (T·K terms of F×H)
PRODUCT_ELEMENTS = 1 << 18  # of an operand of summed_products worked on at a time (2 MiB)
NOTHING, ALONE = -1, -2     # codes of TermLabels.uses: the term dropped; the term alone (assigned, not accumulated)


@dataclass(frozen=True, eq=False)
class TermLabels:
    """The label (t, what it uses, what belongs) of each one-term alternative, made only when
    asked (there are T·K of them, and a check names at most one): `t` 1-based steps, `uses`
    and `belongs` codes that `name` words (or NOTHING, ALONE); each (M,)."""
    t: np.ndarray
    uses: np.ndarray
    belongs: np.ndarray
    name: Callable[[int], str]

    def __len__(self) -> int:
        return len(self.t)

    def __getitem__(self, i: int) -> tuple[int, str, str]:
        t, uses, belongs = int(self.t[i]), int(self.uses[i]), int(self.belongs[i])
        if uses == ALONE:
            return t, "only this term", "the sum over t = 1..T"
        return t, "nothing" if uses == NOTHING else self.name(uses), self.name(belongs)

    def __iter__(self) -> Iterator[tuple[int, str, str]]:
        return (self[i] for i in range(len(self)))


NO_LABELS = TermLabels(np.empty(0, dtype=int), np.empty(0, dtype=int), np.empty(0, dtype=int), str)


@dataclass(frozen=True)
class TermAlternatives:
    """A parameter gradient from a given ∂L/∂s_t, `value`, and the values it takes with one
    term changed: `alternatives[i]` uses `labels[i]` = (t, what it uses, what belongs) there."""
    value: np.ndarray
    alternatives: np.ndarray                    # (M,) + value.shape
    labels: TermLabels

    def reshaped(self, shape: tuple[int, ...]) -> "TermAlternatives":
        """The same sums with the gradient's own shape (the same number of elements)."""
        return TermAlternatives(self.value.reshape(shape), self.alternatives.reshape((-1,) + shape), self.labels)


def summed_products(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Σ_n Σ_t a[n, t]ᵀ·b[n, t], (F, H), of a (N, T, F) and b (N, T, H): a parameter
    gradient's sum over the batch and the steps, as matrix products (BLAS), a few whole
    sequences at a time, so that a strided view (h[:, :-1]) is copied a block at a time
    only. Summed in another order than one product over all N·T rows: the same up to rounding."""
    N, T, F = a.shape
    per_block = max(1, PRODUCT_ELEMENTS // max(1, T * max(F, b.shape[2])))
    total = np.zeros((F, b.shape[2]))
    for n in range(0, N, per_block):
        rows = slice(n, n + per_block)
        total += a[rows].reshape(-1, F).T @ b[rows].reshape(-1, b.shape[2])
    return total


def _state(k: int, T: int) -> str:
    return "h_T" if k == T else f"h_{k}"


def _one_term_changed(factors: np.ndarray, ds: np.ndarray, used: np.ndarray,
                      name: Callable[[int], str]) -> TermAlternatives:
    """Σ_t factors[:, used[t-1]]ᵀ·∂L/∂s_t, and that sum with step t's factor replaced by any
    other factors[:, k], or dropped, or alone: factors (N, K, F), ds (N, T, H), used (T,)
    indices into K; name(k) is the notation of factors[:, k]."""
    T, K = ds.shape[1], factors.shape[1]
    if T * K * factors.shape[2] * ds.shape[2] > TERM_BUDGET:        # the sum only: no alternatives
        value = summed_products(factors[:, used], ds)
        return TermAlternatives(value, np.empty((0,) + value.shape), NO_LABELS)
    terms = np.einsum("nkf,nth->tkfh", factors, ds)                 # terms[t-1, k] = factors_kᵀ·∂L/∂s_t
    right = terms[np.arange(T), used]                               # (T, F, H)
    value = right.sum(axis=0)
    swapped = value + terms - right[:, None]                        # (T, K, F, H)
    step, k = np.meshgrid(np.arange(T), np.arange(K), indexing="ij")   # (T, K) each
    keep = k != used[:, None]
    dropped = value - right                                         # (T, F, H)
    # then each step's term dropped, and alone: the sum assigned (=) in the loop instead of accumulated (+=)
    labels = TermLabels(np.concatenate([step[keep], np.arange(T), np.arange(T)]) + 1,
                        np.concatenate([k[keep], np.full(T, NOTHING), np.full(T, ALONE)]),
                        np.concatenate([np.broadcast_to(used[:, None], (T, K))[keep], used, used]), name)
    return TermAlternatives(value, np.concatenate([swapped[keep], dropped, right]), labels)


def _first_step(products: np.ndarray) -> TermAlternatives:
    """∂L/∂s_1·Whᵀ from products[:, k-1] = ∂L/∂s_k·Whᵀ (N, T, H), and it from any other step k."""
    T = products.shape[1]
    return TermAlternatives(products[:, 0], np.moveaxis(products[:, 1:], 1, 0),
                            TermLabels(np.ones(T - 1, dtype=int), np.arange(2, T + 1), np.ones(T - 1, dtype=int),
                                       lambda k: f"∂L/∂s_{k}"))


def term_alternatives(h: np.ndarray, x: np.ndarray, Wh: np.ndarray, ds: np.ndarray,
                      named: dict[str, Sum]) -> dict[str, TermAlternatives]:
    """Each gradient of `named` (a model's gradient name → its sum) as the correct BPTT's sum
    builds it from `ds` (a submission's ∂L/∂s_t) and the forward states, with every one-term
    change; shapes as above, each value shaped as the sum makes it ((F, H), or (H,) for bias)."""
    N, T, H = ds.shape
    steps = np.arange(T)
    build: dict[Sum, Callable[[], TermAlternatives]] = {
        "recurrent": lambda: _one_term_changed(h, ds, steps, lambda k: _state(k, T)),
        "input": lambda: _one_term_changed(x, ds, steps, lambda k: f"x_{k + 1}"),
        "bias": lambda: _one_term_changed(np.ones((N, 1, 1)), ds, np.zeros(T, dtype=int),
                                          lambda k: "∂L/∂s_t").reshaped((H,)),
        "initial_state": lambda: _first_step(ds @ Wh.T),
    }
    return {name: build[which]() for name, which in named.items()}
