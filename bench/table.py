"""The benchmark table: every figure is ours beside a baseline timed in the same run."""
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    figure: str          # e.g. "FD check, scalar"
    size: str            # e.g. "T = 1,000"
    ours: float          # seconds (or the measured quantity, see unit)
    baseline_name: str
    baseline: float | None   # None: baseline not available here (the note says why)
    goal: str = ""
    note: str = ""
    unit: str = "s"

    @property
    def ratio(self) -> float | None:
        return None if self.baseline is None or self.ours == 0 else self.baseline / self.ours


def best_time(run, repeat: int = 3) -> float:
    """The best of `repeat` wall-clock timings of run(), in seconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def _value(x: float | None, unit: str) -> str:
    if x is None:
        return "—"
    if unit == "s":
        return f"{x * 1e3:.3g} ms" if x < 1 else f"{x:.3g} s"
    return f"{x:.3g}{unit}"


def _ratio(ratio: float | None) -> str:
    if ratio is None:
        return "—"
    return f"{ratio:.1e}×" if ratio >= 1e5 else f"{ratio:,.0f}×" if ratio >= 10 else f"{ratio:.2g}×"


def render(rows: list[Row]) -> str:
    header = ("figure", "size", "ours", "baseline", "baseline time", "ratio", "goal", "note")
    table = [header] + [(r.figure, r.size, _value(r.ours, r.unit), r.baseline_name,
                         _value(r.baseline, r.unit), _ratio(r.ratio), r.goal, r.note) for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
