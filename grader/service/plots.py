"""The report page's plot: |got − expected| against t, on a log scale, as inline SVG.

A per-timestep output's values have t on `time_axis` (index t-1). At each step the plot
shows the element whose error is largest against its own tolerance atol + rtol·|expected|,
and that tolerance: so a point lies above the tolerance line exactly when step t diverges.
The first divergence (the largest diverging t in BPTT order, the smallest in forward
order) is marked. Every text is escaped.
"""
from dataclasses import dataclass
from html import escape

import numpy as np

from grader.problem_set import Tolerance

WIDTH, HEIGHT = 640, 256
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 44, 36


@dataclass(frozen=True)
class ErrorSeries:
    """Per step t = 1..T (index t-1): the shown error, its tolerance, whether it is finite."""
    error: np.ndarray           # (T,) |got − expected| of the worst element, inf where got is not finite
    tolerance: np.ndarray       # (T,) atol + rtol·|expected| of that element


def error_series(expected, got, time_axis: int, tolerance: Tolerance) -> ErrorSeries:
    """`expected` and `got` (nested lists from the JSON report, None for a non-finite value)
    of one shape, t on `time_axis`."""
    e = np.moveaxis(np.asarray(expected, dtype=np.float64), time_axis, 0)
    g = np.moveaxis(np.array(got, dtype=np.float64), time_axis, 0)      # None → nan
    e, g = e.reshape(len(e), -1), g.reshape(len(g), -1)
    error = np.where(np.isfinite(g), np.abs(g - e), np.inf)
    allowed = tolerance.atol + tolerance.rtol * np.abs(e)
    worst = np.argmax(error / allowed, axis=1)
    rows = np.arange(len(e))
    return ErrorSeries(error[rows, worst], allowed[rows, worst])


def svg(name: str, series: ErrorSeries, first_divergence: int | None, order: str) -> str:
    """The plot of one output as an <svg> element; `order` is "backward" (BPTT: t = T first)
    or "forward"."""
    T = len(series.error)
    finite = np.concatenate([series.error[np.isfinite(series.error) & (series.error > 0)], series.tolerance])
    low = np.floor(np.log10(finite.min())) if finite.size else -12.0
    high = np.ceil(np.log10(finite.max())) if finite.size else 0.0
    high = max(high, low + 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t):
        return LEFT + (plot_w * (t - 1) / (T - 1) if T > 1 else plot_w / 2)

    def y(value):
        level = np.log10(value) if value > 0 else low
        return TOP + plot_h * (high - min(max(level, low), high)) / (high - low)

    steps = range(1, T + 1)
    points = [(x(t), y(v) if np.isfinite(v) else TOP) for t, v in zip(steps, series.error, strict=True)]
    order_text = ("BPTT order: t = T first, so the first divergence is the largest diverging t"
                  if order == "backward" else "forward order: t = 1 first, so the first divergence is the smallest")
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="error-plot" role="img" width="{WIDTH}" '
             f'height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" data-output="{escape(name)}" data-T="{T}">',
             f"<title>|got − expected| of {escape(name)} against t (log scale); {order_text}</title>",
             f'<text x="{LEFT}" y="14" class="caption">|got − expected| of {escape(name)} against t (log scale); '
             'dashed: the tolerance</text>',
             f'<text x="{LEFT}" y="30" class="caption order">{escape(order_text)}</text>',
             f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#888"/>']
    for decade in range(int(low), int(high) + 1):
        parts.append(f'<text x="{LEFT - 6}" y="{y(10.0 ** decade) + 4:.1f}" text-anchor="end" '
                     f'class="tick">1e{decade}</text>')
    for t in sorted({1, T, *range(1, T + 1, max(1, T // 10))}):
        parts.append(f'<text x="{x(t):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" class="tick">{t}</text>')
    parts.append(f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 4}" text-anchor="middle">t</text>')
    tolerance = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in zip(steps, series.tolerance, strict=True))
    parts.append(f'<polyline class="tolerance" points="{tolerance}" fill="none" stroke="#c00" '
                 f'stroke-dasharray="6 3"><title>tolerance atol + rtol·|expected|</title></polyline>')
    parts.append(f'<polyline class="error" points="{" ".join(f"{px:.1f},{py:.1f}" for px, py in points)}" '
                 'fill="none" stroke="#1f5fa8"/>')
    for t, (px, py), v in zip(steps, points, series.error, strict=True):
        shown = f"{v:.3e}" if np.isfinite(v) else "not finite"
        parts.append(f'<circle class="step" cx="{px:.1f}" cy="{py:.1f}" r="3" fill="#1f5fa8" data-t="{t}">'
                     f"<title>t = {t}: |got − expected| = {shown}</title></circle>")
    if first_divergence is not None and 1 <= first_divergence <= T:
        px, py = points[first_divergence - 1]
        parts.append(f'<g class="first-divergence" data-t="{first_divergence}">'
                     f'<line x1="{px:.1f}" y1="{TOP}" x2="{px:.1f}" y2="{TOP + plot_h}" stroke="#c00"/>'
                     f'<circle cx="{px:.1f}" cy="{py:.1f}" r="6" fill="none" stroke="#c00" stroke-width="2"/>'
                     f'<text x="{min(px + 6, WIDTH - RIGHT - 150):.1f}" y="{TOP + 14}" fill="#c00">'
                     f"first divergence t = {first_divergence}</text></g>")
    parts.append("</svg>")
    return "".join(parts)
