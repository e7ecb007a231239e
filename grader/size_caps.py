"""How much a problem set may ask of the grader: its own module, so that the command
line's help states the defaults without importing the loader."""
from dataclasses import dataclass


@dataclass(frozen=True)
class SizeCaps:
    """How much a problem set may ask of the grader (the CLI's --max-work, --max-numbers).

    `work` bounds Σ N·T·H over the problems (T for a scalar problem: N = H = 1), which the
    time and memory of computing the reference values and diagnosing a submission follow;
    `numbers` bounds what one vector problem's arrays hold, all together,
    N·T·(D + H + O) + H·(D + H + O). (A scalar problem's T is at most 1,000,000 by the schema.)"""
    work: int = 2_000_000
    numbers: int = 5_000_000
