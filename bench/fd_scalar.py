"""FD reference check, scalar: every ∂L/∂s_t, ∂L/∂w, ∂L/∂v, ∂L/∂h_0 by our complex steps
chained once per step (reference.finite_diff, "complex_step"), against

- our whole-forward complex step ("complex_step_full", the perturbed runs re-run in one
  batched triangular pass: the previous scheme);
- the per-element loop (CS231n's eval_numerical_gradient style): for each of the T + 3
  quantities, two full forward passes with the element nudged by ±h; once with the same
  registry functions our checker uses (like for like), once in plain Python floats with
  math.tanh (the fastest such a loop gets);
- JAX central differences, jit-compiled and vmapped over all 2(T + 3) perturbed forward
  passes (lax.scan), compilation untimed, where jax is installed;
- torch.autograd.gradcheck on the same function in float64, where torch is installed.

For large T the per-element loop is timed on a sample of elements and scaled to all of them
(the note says so): each element costs two full forward passes, whichever it is.
"""
import math
from functools import partial

import numpy as np

from bench.table import Row, best_time
from reference.finite_diff import finite_differences
from reference.scalar import ScalarRNN, forward

MODEL = ("tanh", "sigmoid", "squared_error")
SAMPLED_ELEMENTS = 40


def problem(T: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    rnn = ScalarRNN.named(*MODEL)
    return rnn, forward(rnn, 0.7, -0.4, 0.2, rng.normal(size=T), rng.normal(size=T))


def registry_loss(rnn, f, w, v, h0, t=None, ds=0.0) -> float:
    """L of a full forward pass with ds added to s_t (t 1-based), with the registry's
    activation and loss functions."""
    h, total = h0, 0.0
    weights = rnn.loss.weights(len(f.x))
    for k in range(len(f.x)):
        h = rnn.phi.value(w * h + v * f.x[k] + (ds if k + 1 == t else 0.0))
        total += weights[k] * rnn.loss.term(rnn.theta.value(h), f.y[k])
    return total


def plain_float_loss(rnn, f, w, v, h0, t=None, ds=0.0) -> float:
    """The same L for MODEL in plain Python floats."""
    h, total = h0, 0.0
    for k, (x, y) in enumerate(zip(f.x.tolist(), f.y.tolist(), strict=True)):
        h = math.tanh(w * h + v * x + (ds if k + 1 == t else 0.0))
        total += 0.5 * (1.0 / (1.0 + math.exp(-h)) - y) ** 2
    return total


def per_element_loop(loss_with, rnn, f, elements, h=1e-5) -> list[float]:
    """Central differences, two full forward passes per element (t for ∂L/∂s_t, or a name)."""
    grads = []
    for element in elements:
        args = {"w": f.w, "v": f.v, "h0": f.h0}
        if isinstance(element, str):
            plus, minus = dict(args), dict(args)
            plus[element] += h
            minus[element] -= h
            grads.append((loss_with(rnn, f, **plus) - loss_with(rnn, f, **minus)) / (2 * h))
        else:
            grads.append((loss_with(rnn, f, **args, t=element, ds=h)
                          - loss_with(rnn, f, **args, t=element, ds=-h)) / (2 * h))
    return grads


def jax_central_differences_time(f, h=1e-5) -> float | None:
    """Best time of MODEL's central differences for w, v, h_0 and every s_t by JAX: one jitted
    function, vmapped over the 2(T + 3) perturbed inputs; None without jax."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    x, y, T = jnp.asarray(f.x), jnp.asarray(f.y), len(f.x)

    def loss(inputs):                  # inputs: w, v, h_0, then the T values added to s_t
        def step(h, data):
            x_t, y_t, ds_t = data
            h = jnp.tanh(inputs[0] * h + inputs[1] * x_t + ds_t)
            return h, 0.5 * (jax.nn.sigmoid(h) - y_t) ** 2
        return jax.lax.scan(step, inputs[2], (x, y, inputs[3:]))[1].sum()

    base = jnp.concatenate([jnp.array([f.w, f.v, f.h0]), jnp.zeros(T)])

    @jax.jit
    def central_differences(base):
        nudges = h * jnp.eye(T + 3)
        losses = jax.vmap(loss)(jnp.concatenate([base + nudges, base - nudges]))
        return (losses[:T + 3] - losses[T + 3:]) / (2 * h)

    central_differences(base).block_until_ready()                   # compile, untimed
    return best_time(lambda: central_differences(base).block_until_ready())


def torch_gradcheck_time(rnn, f) -> float | None:
    try:
        import torch
    except ImportError:
        return None
    activations = {"tanh": torch.tanh, "sigmoid": torch.sigmoid}
    x, y = torch.tensor(f.x), torch.tensor(f.y)

    def loss(params, injections):
        w, v, h = params[0], params[1], params[2]
        total = 0.0
        for k in range(len(f.x)):
            h = activations[MODEL[0]](w * h + v * x[k] + injections[k])
            total = total + 0.5 * (activations[MODEL[1]](h) - y[k]) ** 2
        return total

    params = torch.tensor([f.w, f.v, f.h0], dtype=torch.float64, requires_grad=True)
    injections = torch.zeros(len(f.x), dtype=torch.float64, requires_grad=True)
    torch.autograd.gradcheck(torch.tanh, (params,))                 # warm-up, untimed
    return best_time(lambda: torch.autograd.gradcheck(loss, (params, injections)), repeat=1)


def rows(sizes=(10, 100, 1_000, 10_000)) -> list[Row]:
    return [row for T in sizes for row in rows_at(T)]


def rows_at(T: int) -> list[Row]:
    """The figures at one sequence length T."""
    result = []
    rnn, f = problem(T)
    ours = best_time(lambda: finite_differences(rnn, f), repeat=5 if T <= 1000 else 3)
    elements = ["w", "v", "h0"] + list(range(1, T + 1))
    sampled = elements if len(elements) <= 2 * SAMPLED_ELEMENTS else elements[:3] + list(
        np.linspace(1, T, SAMPLED_ELEMENTS, dtype=int))
    note = "" if sampled is elements else f"loop timed on {len(sampled)} of {len(elements)} elements"
    size = f"T = {T:,}"
    goal = "≥ 100×" if T == 1000 else ""
    full = best_time(lambda: finite_differences(rnn, f, method="complex_step_full"), repeat=3 if T <= 1000 else 1)
    result.append(Row("FD check, scalar", size, ours, "whole-forward complex step", full, "", "complex_step_full"))
    for name, loss_with in (("per-element loop", registry_loss), ("per-element loop, floats", plain_float_loss)):
        loop = best_time(partial(per_element_loop, loss_with, rnn, f, sampled), repeat=1)
        result.append(Row("FD check, scalar", size, ours, name, loop * len(elements) / len(sampled), goal, note))
    if T <= 1000:
        jax_time = jax_central_differences_time(f)
        result.append(Row("FD check, scalar", size, ours, "JAX jit+vmap central differences", jax_time,
                          "> 1×" if T == 1000 else "", "jax not installed" if jax_time is None else ""))
        torch_time = torch_gradcheck_time(rnn, f)
        result.append(Row("FD check, scalar", size, ours, "torch gradcheck", torch_time,
                          "≥ 300×" if T == 1000 else "",
                          "torch not installed" if torch_time is None else ""))
    return result


if __name__ == "__main__":
    from bench.table import render
    print(render(rows()))
