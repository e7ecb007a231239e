"""What sets a crashing problem apart: after grading, each problem whose call raised while
problems of other sizes ran gets the size that
separates them in its message ("raises only where T = 1; the 5 problems with T ≥ 2 ran"),
and a number in its error that is none of its sizes is pointed out as possibly hard-coded.
Pure: it reads and returns ProblemResults."""
import re
from dataclasses import replace

from grader.results import ProblemResult

# relations between two sizes that a crash may follow, with their negation
RELATIONS = {"D < H": (lambda z: z["D"] < z["H"], "D ≥ H"), "D > H": (lambda z: z["D"] > z["H"], "D ≤ H")}


def _problems(n: int) -> str:
    return f"the {n} problems" if n > 1 else "the problem"


def _by_value(name: str, crashed: list[dict], ran: list[dict]) -> str | None:
    bad, good = {z[name] for z in crashed}, {z[name] for z in ran}
    if bad & good:
        return None
    if max(bad) < min(good):
        where, other = (f"{name} = {max(bad)}" if len(bad) == 1 else f"{name} ≤ {max(bad)}"), f"{name} ≥ {min(good)}"
    elif min(bad) > max(good):
        where, other = (f"{name} = {min(bad)}" if len(bad) == 1 else f"{name} ≥ {min(bad)}"), f"{name} ≤ {max(good)}"
    elif len(good) == 1:
        where, other = f"{name} ≠ {min(good)}", f"{name} = {min(good)}"
    else:
        return None
    return f"raises only where {where}; {_problems(len(ran))} with {other} ran"


def separating(crashed: list[dict], ran: list[dict]) -> str | None:
    """The first size (by name, then D against H) whose values part the crashed problems'
    sizes from those that ran, as a sentence; None if none does."""
    for name in crashed[0]:
        if all(name in z for z in crashed + ran) and (sentence := _by_value(name, crashed, ran)):
            return sentence
    for relation, (holds, negation) in RELATIONS.items():
        if all({"D", "H"} <= set(z) for z in crashed + ran) and all(map(holds, crashed)) \
                and not any(map(holds, ran)):
            return f"raises only where {relation}; {_problems(len(ran))} with {negation} ran"
    return None


def hard_coded(message: str, sizes: dict[str, int]) -> str | None:
    """A number ≥ 2 in a shape of the error ("(2,3,6)", "with size 6") that is none of a
    vector problem's `sizes`, as a sentence."""
    error = message.split(": ", 1)[1] if ": " in message else ""
    shapes = re.findall(r"\(([\d,\s]+)\)|with size (\d+)", error)
    numbers = [int(n) for shape, size in shapes for n in re.findall(r"\d+", shape or size)]
    stray = next((n for n in numbers if n >= 2 and n not in sizes.values()), None)
    if stray is None or "D" not in sizes:
        return None
    return f"{stray} in this error is none of {', '.join(sizes)} here: a hard-coded size?"


def with_triggers(problems: tuple[ProblemResult, ...], calls: tuple[str, ...]) -> tuple[ProblemResult, ...]:
    """`problems` with each crash's trigger (among the problems of the same call, `calls[i]`
    naming problem i's functions) and possibly hard-coded size in its message."""
    notes: dict[str, list[str]] = {}
    for call in set(calls):
        group = [p for p, c in zip(problems, calls, strict=True) if c == call]
        crashed = [p for p in group if not p.ran and p.sizes and " raised " in p.message]
        ran = [p.sizes for p in group if p.ran]
        trigger = separating([p.sizes for p in crashed], ran) if crashed and ran else None
        notes.update({p.id: [s for s in (trigger, hard_coded(p.message, p.sizes)) if s] for p in crashed})
    return tuple(replace(p, message="; ".join([p.message, *notes[p.id]])) if notes.get(p.id) else p
                 for p in problems)
