"""What a student reads about one problem, shared by the formats made for platforms
(Gradescope, PrairieLearn, JUnit, Markdown) and the pytest plugin: the text report's lines
(score, divergence table, diagnosis, traceback)."""
from grader.reports.json_report import problem_json
from grader.reports.text_report import problem_lines
from grader.results import OutputResult, ProblemResult


def diagnosis(p: ProblemResult) -> list[dict]:
    """The problem's `diagnosis` entries in the JSON report ([] when it has none)."""
    return problem_json(p).get("diagnosis") or []


def diverging(p: ProblemResult) -> list[OutputResult]:
    """The per-timestep outputs that diverge, in report order."""
    return [o for o in p.outputs
            if o.per_timestep and o.comparison is not None and o.comparison.first_divergence is not None]


def first_divergences(p: ProblemResult) -> dict[str, dict]:
    """{output name: {"t": t, "order": "backward" | "forward"}} for each per-timestep output that diverges."""
    return {o.name: {"t": o.comparison.first_divergence, "order": o.comparison.order} for o in diverging(p)}


def divergence_summary(p: ProblemResult) -> str:
    """E.g. "∂L/∂s_t at t = 7", or "" when no per-timestep output diverges."""
    return "; ".join(f"{o.symbol} at t = {o.comparison.first_divergence}"
                     + (" (forward order)" if o.comparison.order == "forward" else "") for o in diverging(p))


def problem_feedback(p: ProblemResult) -> str:
    """The text report's lines for `p`, its diagnosis with every explanation included."""
    return "\n".join(problem_lines(p))


def clip(text: str, limit: int) -> str:
    """At most `limit` characters of `text`, saying how much was cut."""
    if len(text) <= limit:
        return text
    note = f"\n… ({len(text) - limit:,} more characters not shown)"
    return text[:max(0, limit - len(note))] + note
