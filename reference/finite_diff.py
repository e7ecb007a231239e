"""Finite-difference gradients of the scalar RNN, independent of the BPTT backward.

    s_t = w·h_{t−1} + v·x_t,   h_t = φ(s_t),   L = Σ_t weight_t·ℓ(θ(h_t), y_t)

Arrays are 0-based and t is 1-based, as in reference.scalar. Methods, step sizes, error
estimates and the Estimate type are reference.fd_methods'.

"complex_step" (the default): complex steps once per step, chained in real arithmetic.
1. Local derivatives, each an elementwise complex step Im F(z + iδ)/δ (δ = 1e-20) of a
   *value* function at the unperturbed forward pass, for all t at once:
       a_t = φ'(s_t)                          from the registry's φ
       g_t = weight_t·∂ℓ(θ(h_t), y_t)/∂h_t     from the registry's θ and ℓ, composed
       ∂s_t/∂h_{t−1}, ∂s_t/∂w, ∂s_t/∂v, ∂s_t/∂x_t   from the step s = w·h + v·x
   The registry's derivative functions (φ', θ', ℓ'), which the reference backward uses, are
   never called.
2. The chain rule as an explicit sum over paths: a perturbation of h_t reaches h_k through
   the product of the local factors m_j = ∂s_j/∂h_{j−1}·a_j of the steps between, so
       ∂L/∂h_t = D_t = Σ_{k ≥ t} g_k·Π_{j=t+1}^{k} m_j,   ∂L/∂s_t = a_t·D_t,
       ∂L/∂x_t = ∂s_t/∂x_t·a_t·D_t,   ∂L/∂q = Σ_t ∂s_t/∂q·a_t·D_t  for q = w, v (and h_0 at t = 1).
   `path_sums` forms the products by cumulative products in blocks of PATH_BLOCK steps and
   the blocks' own products and sums by the same function one level up: O(T·B) vectorised
   work instead of the T²/2 element-steps of re-running every perturbed forward pass. This
   is the same quantity the whole-forward complex step gives (Im of a run started at t is
   δ·D_t to rounding), not the reference's recursion: it shares with the reference backward
   only the forward pass f it checks, and no code or intermediate value.
3. Error estimate: each path's terms carry the rounding of ≤ n = T − t + 1 products, so,
   as for the whole-forward run, 4·ε·√n·Σ_k c_k·|g_k·Π m_j| (c_k: the loss's conditioning
   at ŷ_k), the magnitudes summed by `path_sums` on |m|, c·|g|; for w, v, h_0 the bound
   Σ_t |∂s_t/∂q·a_t|·(that sum), n = T.
4. Kink flags: an imaginary step never moves a real part, so a run is flagged exactly where
   the unperturbed value sits on a kink — s_k on φ's or h_k on θ's, at a step k ≥ t the run
   covers (every step for w, v, h_0); the one-sided derivative taken there is the one the
   complex step of the value function gives (0 for relu at 0).

"complex_step_full", "central", "richardson": perturbed whole-forward re-runs. ∂L/∂s_t is
found by perturbing s_t *inside* the forward pass: the pre-activation at step t gets ±δ (or
iδ) and steps t..T are re-run. ∂L/∂x_t and ∂L/∂h_t likewise perturb x_t and h_t at step t;
∂L/∂w, ∂L/∂v, ∂L/∂h_0 perturb the parameter and re-run all of 1..T. Every perturbed run of
one check advances together as one numpy array, and a run that starts at step t reuses the
unperturbed prefix h_{t−1}: at step k only the runs that start at or before k are active,
so the work is triangular, T²/2 element-steps. These share with the reference nothing but
the registry's value functions, and "complex_step_full" cross-checks "complex_step".
"""
from dataclasses import dataclass

import numpy as np

from reference.fd_methods import METHODS as METHODS  # re-exported: the public name grader.cli imports
from reference.fd_methods import (
    Estimate,
    combine,
    complex_step_error,
    local_derivative,
    perturbations,
    resolve_method,
    step_size,
)
from reference.scalar import Forward, ScalarRNN

# The quantities a check can perturb; "s", "x", "h" are per timestep, the rest scalars.
QUANTITIES = {"dL_ds": "s", "dL_dx": "x", "dL_dh": "h", "dL_dw": "w", "dL_dv": "v", "dL_dh0": "h0"}
PER_STEP = ("s", "x", "h")
DEFAULT_OUTPUTS = ("dL_ds", "dL_dw", "dL_dv", "dL_dh0")
PATH_BLOCK = 8


def finite_differences(rnn: ScalarRNN, f: Forward, outputs=DEFAULT_OUTPUTS,
                       method: str = "auto") -> dict[str, Estimate]:
    """Finite-difference estimates of the named gradients (keys of QUANTITIES) at the
    point of the forward pass `f`."""
    method = resolve_method(method, rnn.complex_step)
    if method == "complex_step":
        return _chained_complex_steps(rnn, f, outputs)
    return _whole_forward(rnn, f, outputs, method)


def pre_activation(w, v, h_prev, x):
    """s = w·h_{t−1} + v·x_t, elementwise."""
    return w * h_prev + v * x


def path_sums(m: np.ndarray, g: np.ndarray, block: int = PATH_BLOCK) -> np.ndarray:
    """D_t = Σ_{k ≥ t} g_k·Π_{j=t+1}^{k} m_j for t = 0..T−1; m, g (T, K) → (T, K): K
    independent sums side by side.

    Within a block of B steps every start's products are one cumulative product. A start t
    leaves its block with E_t = Π of m up to the block's end and meets a later block b as a
    whole: b multiplies what passes through by M_b = Π_{j∈b} m_j and adds G_b = Σ_{k∈b} g_k·Π
    of m from b's start to k. So D_t = (its own block's part) + E_t·D'_{β+1}, where D' is the
    same sum over blocks (m → M, g_β → G_{β+1}): T/B terms, solved by this function again."""
    T, K = g.shape
    n_blocks = -(-T // block)
    pad = n_blocks * block - T
    m_blocks = np.concatenate([m, np.ones((pad, K))]).reshape(n_blocks, block, K)
    g_blocks = np.concatenate([g, np.zeros((pad, K))]).reshape(n_blocks, block, K)
    c, r = np.indices((block, block))
    products = np.multiply.accumulate(np.where((c > r)[..., None], m_blocks[:, :, None], 1.0), axis=1)
    products *= (c >= r)[..., None]                           # [b, c, r] = Π_{j=r+1}^{c} m_j, c ≥ r
    within = np.einsum("bcrk,bck->brk", products, g_blocks)   # the own block's part, (n_blocks, B, K)
    if n_blocks == 1:
        return within[0, :T]
    leaving = products[:, -1]                                 # E_t
    entering = m_blocks[:, 0]
    block_sums = entering * within[:, 0]                      # G_b
    after = path_sums(entering * leaving[:, 0], np.concatenate([block_sums[1:], np.zeros((1, K))]), block)
    return (within + leaving * after[:, None]).reshape(-1, K)[:T]


def _on_kink(activation, base: np.ndarray) -> np.ndarray:
    return np.isin(base, activation.kinks)


def _chained_complex_steps(rnn: ScalarRNN, f: Forward, outputs) -> dict[str, Estimate]:
    """"complex_step": local complex steps chained by `path_sums` (see the module docstring)."""
    T = len(f.x)
    weights = rnn.loss.weights(T)
    step_args = {"w": np.full(T, f.w), "v": np.full(T, f.v), "h_prev": f.h[:-1], "x": f.x}
    ds = {name: local_derivative(lambda z, name=name: pre_activation(**{**step_args, name: z}), value)
          for name, value in step_args.items()}                            # ∂s_t/∂(w, v, h_{t−1}, x_t)
    a = local_derivative(rnn.phi.value, f.s)                              # φ'(s_t)
    g = weights * local_derivative(lambda h: rnn.loss.term(rnn.theta.value(h), f.y), f.h[1:])
    m = ds["h_prev"] * a                                                  # ∂h_t/∂h_{t−1}
    magnitude = rnn.loss.conditioning(f.y_hat) * np.abs(g)
    D, D_magnitude = path_sums(np.stack([m, np.abs(m)], axis=1), np.stack([g, magnitude], axis=1)).T
    n_steps = T - np.arange(T)
    h_error = complex_step_error(D_magnitude, n_steps)
    kinked = _on_kink(rnn.phi, f.s) | _on_kink(rnn.theta, f.h[1:])
    kink = np.logical_or.accumulate(kinked[::-1])[::-1]                   # some step k ≥ t on a kink
    through_s = {"s": a, "x": ds["x"] * a, "h": np.ones(T)}               # ∂s_t/∂q·a_t, or 1 for h_t itself
    through_param = {"w": ds["w"] * a, "v": ds["v"] * a, "h0": np.eye(1, T)[0] * ds["h_prev"] * a}
    result = {}
    for name in outputs:
        q = QUANTITIES[name]
        if q in PER_STEP:
            factor = through_s[q]
            result[name] = Estimate(factor * D, np.abs(factor) * h_error, kink, "complex_step", True)
        else:
            factor = through_param[q]
            error = complex_step_error(np.abs(factor) @ D_magnitude, T)
            result[name] = Estimate(np.asarray(factor @ D), np.asarray(error), np.asarray(kinked.any()),
                                    "complex_step", False)
    return result


@dataclass(frozen=True)
class _Runs:
    """R perturbed forward runs, sorted by the 0-based step at which each starts.

    Each run adds its offsets to the unperturbed forward: to w and v throughout, and to
    h_{start}, s, x and h at its start step. Only the first `n_param_runs` runs perturb w
    or v, so the other runs share the real w and v (half the complex multiplications)."""
    start: np.ndarray      # (R,) int: first step re-run
    dw: np.ndarray         # (R,) offset added to w
    dv: np.ndarray         # (R,) offset added to v
    h_prev: np.ndarray     # (R,) offset added to h_{start} (h_0 runs)
    ds: np.ndarray         # (R,) offset added to s at the start step
    dx: np.ndarray         # (R,) offset added to x at the start step
    dh: np.ndarray         # (R,) offset added to h at the start step
    n_param_runs: int


OFFSETS = {"dw": "w", "dv": "v", "h_prev": "h0", "ds": "s", "dx": "x", "dh": "h"}


def _runs(f: Forward, steps) -> tuple[_Runs, list[np.ndarray]]:
    """One run per element of each (name, step) of `steps`, where step is complex or real,
    shaped like the quantity. Returns the runs and, per (name, step), the indices of the
    runs it owns (in start order)."""
    T = len(f.x)
    dtype = np.result_type(*(step for _, step in steps))
    starts: list[np.ndarray] = []
    offsets: dict[str, list[np.ndarray]] = {key: [] for key in OFFSETS}
    for name, step in steps:
        q = QUANTITIES[name]
        n = T if q in PER_STEP else 1
        starts.append(np.arange(n))                       # parameter runs start at step 0
        for key, quantity in OFFSETS.items():
            offsets[key].append(np.broadcast_to(np.asarray(step, dtype=dtype), n)
                                if q == quantity else np.zeros(n, dtype=dtype))
    owners = np.concatenate([np.full(len(c), i) for i, c in enumerate(starts)])
    start = np.concatenate(starts)
    is_param = np.concatenate(offsets["dw"]) != 0
    is_param |= np.concatenate(offsets["dv"]) != 0
    order = np.lexsort((~is_param, start))                # by start; w, v runs first
    columns = {key: np.concatenate(v)[order] for key, v in offsets.items()}
    runs = _Runs(start=start[order], n_param_runs=int(is_param.sum()), **columns)
    positions = np.argsort(order)                         # positions[j]: where run j now sits
    return runs, [positions[owners == i] for i in range(len(steps))]


def _suffix_losses(rnn: ScalarRNN, f: Forward, runs: _Runs):
    """Run every perturbed forward from its start step to T.

    Returns per run: Σ_{k ≥ start} weight_k·ℓ_k; Σ_k c_k·|weight_k·ℓ_k| (of the imaginary
    parts for a complex step, with c_k the loss's conditioning at ŷ_k), for rounding
    estimates; the number of steps it ran; and
    whether it crossed a kink of φ or θ."""
    T = len(f.x)
    weights = rnn.loss.weights(T)
    R, m = len(runs.start), runs.n_param_runs
    dtype = np.result_type(runs.ds, float)
    injected = (f.v + runs.dv) * runs.dx + runs.ds       # added to s at each run's start
    perturbs_h = bool(runs.dh.any())
    h_prev = np.zeros(R, dtype=dtype)
    total = np.zeros(R, dtype=dtype)
    magnitude = np.zeros(R)
    conditioning = rnn.loss.conditioning(f.y_hat)
    kinked = np.zeros(R, dtype=bool)
    has_kinks = bool(rnn.phi.kinks or rnn.theta.kinks)
    active_until = np.searchsorted(runs.start, np.arange(T), side="right")
    first = 0
    for k in range(T):
        n = active_until[k]
        new = slice(first, n)                             # the runs that start at step k+1
        h_prev[new] = f.h[k] + runs.h_prev[new]
        s = pre_activation(f.w, f.v, h_prev[:n], f.x[k])
        if m:
            s[:m] += runs.dw[:m] * h_prev[:m] + runs.dv[:m] * f.x[k]
        s[new] += injected[new]
        h = rnn.phi.value(s)
        if perturbs_h:
            h[new] += runs.dh[new]
        if weights[k]:
            term = weights[k] * rnn.loss.term(rnn.theta.value(h), f.y[k])
            total[:n] += term
            magnitude[:n] += conditioning[k] * np.abs(term.imag if np.iscomplexobj(term) else term)
        if has_kinks:
            kinked[:n] |= _crosses(rnn.phi, s, f.s[k]) | _crosses(rnn.theta, h, f.h[k + 1])
        h_prev[:n] = h
        first = n
    return total, magnitude, T - runs.start, kinked


def _crosses(activation, perturbed, base) -> np.ndarray:
    """True where a perturbed argument lies across (or the base value on) a kink."""
    crossed = np.zeros(np.shape(perturbed), dtype=bool)
    for kink in activation.kinks:
        crossed |= (np.sign(np.real(perturbed) - kink) != np.sign(base - kink)) | (base == kink)
    return crossed


def _base_values(f: Forward) -> dict[str, np.ndarray]:
    return {"s": f.s, "x": f.x, "h": f.h[1:], "w": np.array([f.w]), "v": np.array([f.v]),
            "h0": np.array([f.h0])}


def _whole_forward(rnn: ScalarRNN, f: Forward, outputs, method: str) -> dict[str, Estimate]:
    """"complex_step_full", "central", "richardson": every perturbation of fd_methods'
    `perturbations` as its own run, all in one batched pass."""
    base = _base_values(f)
    deltas = {name: step_size(method, np.maximum(1.0, np.abs(base[QUANTITIES[name]]))) for name in outputs}
    steps = {name: perturbations(method, delta) for name, delta in deltas.items()}   # (P, n) each
    runs, owned = _runs(f, [(name, step) for name in outputs for step in steps[name]])
    total, magnitude, n_steps, kinked = _suffix_losses(rnn, f, runs)
    P = len(steps[outputs[0]]) if outputs else 0
    result = {}
    for i, name in enumerate(outputs):
        idx = np.stack(owned[P * i: P * (i + 1)])                          # (P, n)
        value, error, kink = combine(method, total[idx], magnitude[idx], n_steps[idx[0]], kinked[idx], deltas[name])
        if QUANTITIES[name] in PER_STEP:
            result[name] = Estimate(value, error, kink, method, True)
        else:
            result[name] = Estimate(value.reshape(()), error.reshape(()), kink.reshape(()), method, False)
    return result
