"""The text report, for a student: a line per problem and, for a per-timestep output
that diverges, a short table around the first divergence with one sentence."""
from grader.reports import register
from grader.results import OutputResult, ProblemResult, Report

SYMBOLS = {"dL_ds": "∂L/∂s_t", "dL_dh": "∂L/∂h_t", "dL_dx": "∂L/∂x_t", "dL_dw": "∂L/∂w",
           "dL_dv": "∂L/∂v", "dL_dh0": "∂L/∂h_0"}
CONTEXT = 2     # table rows shown on each side of the first divergence


def _number(value) -> str:
    return f"{value: .6g}"


def divergence_sentence(o: OutputResult, T: int) -> str:
    t = o.comparison.first_divergence
    symbol = SYMBOLS.get(o.name, o.name)
    if t == T:
        return (f"{symbol} already diverges at t = T = {T}, the first step BPTT computes: look at "
                f"the local term ∂L/∂ŷ_T·θ'(h_T)·φ'(s_T) and the boundary ∂L/∂s_{{T+1}} = 0.")
    matched = f"t = {T}…{t + 1}" if t + 1 < T else f"t = {T}"
    return (f"{symbol} matches for {matched} and first diverges at t = {t} (BPTT order): "
            f"look at how ∂L/∂s_{{t+1}} is carried back into ∂L/∂s_t.")


def divergence_table(o: OutputResult, T: int) -> list[str]:
    c = o.comparison
    t0 = c.first_divergence
    rows = range(min(T, t0 + CONTEXT), max(1, t0 - CONTEXT) - 1, -1)
    lines = [f"      {'t':>5}  {'expected':>13}  {'got':>13}  {'|error|':>10}"]
    if rows[0] < T:
        lines.append(f"      {'…':>5}")
    for t in rows:
        mark = "  ← first divergence" if t == t0 else ("  ✗" if c.diverging[t - 1] else "")
        lines.append(f"      {t:>5}  {_number(c.expected[t - 1]):>13}  {_number(c.got[t - 1]):>13}"
                     f"  {c.abs_error[t - 1]:>10.3g}{mark}")
    if rows[-1] > 1:
        lines.append(f"      {'…':>5}")
    return lines


def problem_lines(p: ProblemResult) -> list[str]:
    lines = [f"{p.id}: {p.score:g}/{p.max_score:g} {p.status} (T = {p.T}) — {p.message}"]
    for o in p.outputs:
        if o.comparison is None or o.passed:
            continue
        if o.per_timestep:
            lines.append(f"  {SYMBOLS.get(o.name, o.name)}, diverging at {len(o.comparison.diverging_timesteps)} of {p.T} steps:")
            lines += divergence_table(o, p.T)
            lines.append("    " + divergence_sentence(o, p.T))
        else:
            c = o.comparison
            lines.append(f"  {SYMBOLS.get(o.name, o.name)}: expected {_number(c.expected).strip()}, "
                         f"got {_number(c.got).strip()}")
    if p.traceback:
        lines += ["  " + line for line in p.traceback.rstrip().splitlines()]
    return lines


@register("text")
def render(report: Report) -> str:
    lines = [f"{report.submission} against {report.problem_set}"]
    for p in report.problems:
        lines += problem_lines(p)
    lines.append(f"Score: {report.score:g}/{report.max_score:g}")
    return "\n".join(lines) + "\n"
