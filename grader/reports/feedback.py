"""What a student reads about one problem, shared by the formats made for platforms
(Gradescope, PrairieLearn, JUnit, Markdown) and the pytest plugin: the text report's lines
(score, divergence table, diagnosis, traceback), control characters escaped."""
from grader.compare import Comparison
from grader.reports.json_report import diagnosis_json
from grader.reports.text_report import problem_lines
from grader.results import OutputResult, ProblemResult
from grader.text_safety import printable


def diagnosis(p: ProblemResult) -> list[dict]:
    """The problem's `diagnosis` entries in the JSON report ([] when it has none)."""
    return [diagnosis_json(d) for d in p.diagnosis]


def diverging(p: ProblemResult) -> list[tuple[OutputResult, Comparison]]:
    """The per-timestep outputs that diverge, with their comparisons, in report order."""
    return [(o, o.found) for o in p.outputs
            if o.per_timestep and isinstance(o.found, Comparison) and o.found.first_divergence is not None]


def first_divergences(p: ProblemResult) -> dict[str, dict]:
    """{output name: {"t": t, "order": "backward" | "forward"}} for each per-timestep output that diverges."""
    return {o.name: {"t": c.first_divergence, "order": c.order} for o, c in diverging(p)}


def divergence_summary(p: ProblemResult) -> str:
    """E.g. "∂L/∂s_t at t = 7", or "" when no per-timestep output diverges."""
    return "; ".join(f"{o.symbol} at t = {c.first_divergence}" + (" (forward order)" if c.order == "forward" else "")
                     for o, c in diverging(p))


def problem_feedback(p: ProblemResult) -> str:
    """The text report's lines for `p`, its diagnosis with every explanation included."""
    return printable("\n".join(problem_lines(p)))


def clip(text: str, limit: int) -> str:
    """At most `limit` characters of `text`, saying how much was cut."""
    if len(text) <= limit:
        return text
    note = f"\n… ({len(text) - limit:,} more characters not shown)"
    return text[:max(0, limit - len(note))] + note
