"""The text report, for a student: a line per problem and, for a per-timestep output
that diverges, a short table around the first divergence with one sentence (a vector
output's row for step t shows, and names, its element with the largest error there); then,
where a catalogue mistake reproduces the wrong outputs, a short paragraph naming it; and, for a
visible problem, the first lines of what the submission printed during its call. A hidden
problem shows its first line only (grader/reports/student_view.py); control characters are
escaped (grader/text_safety.py)."""
import textwrap

from grader.compare import Comparison
from grader.reports.registry import register
from grader.reports.student_view import student_report
from grader.results import OutputResult, ProblemResult, Report, TermCheck
from grader.text_safety import printable

CONTEXT = 2     # table rows shown on each side of the first divergence
PRINTED_LINES = 5   # lines of what the submission printed, shown per visible problem


def _number(value) -> str:
    return f"{value: .6g}"


def first_step(c: Comparison) -> int:
    """The first diverging t of a per-timestep output that diverges."""
    t = c.first_divergence
    assert t is not None, "a diverging output diverges at some t"
    return t


def divergence_sentence(symbol: str, c: Comparison, T: int, local_term: str) -> str:
    """Where to look, from where `c` first diverges; `local_term` is the problem's own (ProblemResult.local_term)."""
    t = first_step(c)
    if c.order == "forward":
        matched = "" if t == 1 else f"matches for t = 1{'' if t == 2 else f'…{t - 1}'} and "
        return (f"{symbol} {matched}first diverges at t = {t} (forward order): the forward pass is wrong "
                "there, and every gradient depends on it, so fix the forward pass first.")
    if t == T:
        return (f"{symbol} already diverges at t = T = {T}, the first step BPTT computes: look at "
                f"the local term {local_term} and the boundary ∂L/∂s_{{T+1}} = 0.")
    matched = f"t = {T}…{t + 1}" if t + 1 < T else f"t = {T}"
    return (f"{symbol} matches for {matched} and first diverges at t = {t} (BPTT order): "
            f"look at how ∂L/∂s_{{t+1}} is carried back into ∂L/∂s_t.")


def divergence_table(c: Comparison, T: int) -> list[str]:
    """Rows around the first divergence, in the order the values are computed."""
    t0 = first_step(c)
    rows = range(min(T, t0 + CONTEXT), max(1, t0 - CONTEXT) - 1, -1)
    if c.order == "forward":
        rows = rows[::-1]
    ends = (T, 1) if c.order == "backward" else (1, T)
    elements = {t: "[" + ", ".join(map(str, c.element_at_step(t))) + "]" for t in rows} if c.expected.ndim > 1 else {}
    width = max(len("element"), *map(len, elements.values())) if elements else 0
    header = f"  {'element':>{width}}" if elements else ""
    lines = [f"      {'t':>5}{header}  {'expected':>13}  {'got':>13}  {'|error|':>10}"]
    if rows[0] != ends[0]:
        lines.append(f"      {'…':>5}")
    for t in rows:
        expected, got, error = c.at_step(t)
        mark = "  ← first divergence" if t == t0 else ("  ✗" if c.diverging_steps[t - 1] else "")
        element = f"  {elements[t]:>{width}}" if elements else ""
        lines.append(f"      {t:>5}{element}  {_number(expected):>13}  {_number(got):>13}  {error:>10.3g}{mark}")
    if rows[-1] != ends[1]:
        lines.append(f"      {'…':>5}")
    return lines


def difference(symbol: str, c: Comparison) -> str:
    """One line for an output without timesteps: its value, or for an array its worst element."""
    if c.expected.ndim == 0:
        return f"  {symbol}: expected {_number(c.expected).strip()}, got {_number(c.got).strip()}"
    worst = c.largest_error_at()
    where = ", ".join(map(str, worst))
    return (f"  {symbol}: {int(c.diverging.sum())} of {c.diverging.size} elements differ; the largest error is at "
            f"[{where}]: expected {_number(c.expected[worst]).strip()}, got {_number(c.got[worst]).strip()}")


def term_sentence(o: OutputResult, check: TermCheck) -> str:
    """What the per-term check of parameter gradient `o` found (grader/term_check.py)."""
    if check.consistent is None:
        return f"Not checked term by term: {check.used}."
    if check.consistent:
        return f"{o.symbol} is the right sum of {check.used}: ∂L/∂s_t is what is wrong, not the sum."
    if check.wrong_term:
        t, uses, expected = check.wrong_term
        if uses == "only this term":
            return (f"{o.symbol} is only its term t = {t} (from {check.used}), where {expected} belongs: "
                    "= instead of += in the loop?")
        used = "is missing" if uses == "nothing" else f"uses {uses} where {expected} belongs"
        return f"{o.symbol} is not the sum of {check.used}: its term t = {t} {used}."
    return f"{o.symbol} is not the sum of {check.used}, and no one term explains it."


def _table_shown(o: OutputResult, c: Comparison, outputs: tuple[OutputResult, ...]) -> bool:
    """A per-timestep output (`o`, compared as `c`) gets a table unless something read first
    already locates the bug: a wrong forward value (then every gradient is off), or ∂L/∂s_t
    derived from dx."""
    failing = [other for other in outputs if isinstance(other.found, Comparison) and not other.passed]
    if c.order == "forward":
        return True
    if any(isinstance(other.found, Comparison) and other.found.order == "forward" for other in failing):
        return False
    return o.name == "dL_ds" or not any(other.derived_from for other in failing)


def _listed(items: list[str], last: str = "and") -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {last} {items[-1]}"


def _named(mistake: str, params: list[dict]) -> str:
    """E.g. "truncated_recursion with k = 3 or k = 4", or the bare id when it has no parameters."""
    values = [", ".join(f"{k} = {v}" for k, v in p.items()) for p in params if p]
    return mistake + (f" with {_listed(values, 'or')}" if values else "")


def diagnosis_paragraph(p: ProblemResult, explained: set[str]) -> list[str]:
    """What the diagnosis says, wrapped: the mistakes that reproduce each group of wrong
    outputs, and each mistake's explanation the first time the report names it (`explained`
    collects those)."""
    outputs: dict[str, list[str]] = {}      # mistake → the wrong outputs it reproduces
    params: dict[str, list[dict]] = {}      # mistake → the parameters that do
    entry = {d.mistake: d for d in p.diagnosis}     # mistake → its change and explanation
    symbols = {o.name: o.symbol for o in p.outputs}
    for d in p.diagnosis:
        if symbols[d.output] not in outputs.setdefault(d.mistake, []):
            outputs[d.mistake].append(symbols[d.output])
        if d.params not in params.setdefault(d.mistake, []):
            params[d.mistake].append(d.params)
    groups: dict[tuple[str, ...], list[str]] = {}       # the same outputs → the mistakes
    for mistake, names in outputs.items():
        named = f"{_named(mistake, params[mistake])} ({entry[mistake].change})"
        groups.setdefault(tuple(names), []).append(named)
    sentences = [f"{mistakes[0]} reproduces your {_listed(list(names))} within the tolerance."
                 if len(mistakes) == 1 else
                 f"{_listed(mistakes)} each reproduce your {_listed(list(names))} within the tolerance: "
                 "indistinguishable on this problem."
                 for names, mistakes in groups.items()]
    sentences += [entry[m].explanation for m in outputs if m not in explained]
    explained.update(outputs)
    return textwrap.wrap("Diagnosis: " + " ".join(sentences), width=100,
                         initial_indent="  ", subsequent_indent="    ")


def across_sentence(report: Report) -> list[str]:
    across = report.diagnosis_across_problems
    if not across:
        return []
    failing = len(across[0].problems)
    problems = "both failing problems" if failing == 2 else f"all {failing} failing problems"
    names = _listed([f"{_named(a.mistake, [a.params])} ({a.change})" for a in across], "or")
    if len(across) == 1:
        return [f"One mistake explains {problems}: {names}."]
    return [f"Each of these explains {problems}, and no problem tells them apart: {names}."]


def problem_lines(p: ProblemResult, explained: set[str] | None = None) -> list[str]:
    """The problem's lines; `explained` collects the mistakes whose explanation the report
    already gave (None: a problem on its own, every explanation given). A hidden problem
    has its first line only."""
    message = printable(p.message, newlines=False)
    sizes = ", ".join(f"{name} = {n}" for name, n in (p.sizes or {"T": p.T}).items())
    lines = [f"{p.id}: {p.score:g}/{p.max_score:g} {p.status} ({sizes}) — {message}"]
    if p.visibility == "hidden":
        return lines
    for o in p.outputs:
        c = o.found
        if not isinstance(c, Comparison) or c.passed:     # the message says what a shape-only output lacks
            continue
        if o.per_timestep and _table_shown(o, c, p.outputs):
            derived = f" ({o.derived.described})" if o.derived else ""
            lines.append(f"  {o.symbol}{derived}, diverging at {len(c.diverging_timesteps)} of {p.T} steps:")
            lines += divergence_table(c, p.T)
            lines.append("    " + divergence_sentence(o.symbol, c, p.T, p.local_term))
            if o.derived and o.derived.localization == "partial":
                lines.append("    Localization is " + o.derived.note + ".")
        elif o.per_timestep:
            lines.append(f"  {o.symbol}: diverging at {len(c.diverging_timesteps)} of {p.T} steps, "
                         f"first at t = {c.first_divergence} (BPTT order)")
        else:
            lines.append(difference(o.symbol, c))
        if o.terms:
            lines.append("    " + term_sentence(o, o.terms))
    if p.diagnosis:
        lines += diagnosis_paragraph(p, set() if explained is None else explained)
    if p.traceback:
        lines += ["  " + line for line in printable(p.traceback).rstrip().split("\n")]
    return lines


def printed_lines(p: ProblemResult) -> list[str]:
    """The first PRINTED_LINES lines the submission printed during `p`'s call, and how many
    more there are; none for a hidden problem, whose output a student never sees."""
    printed = p.submission_output.splitlines()
    if p.visibility == "hidden" or not printed:
        return []
    lines = ["  the submission printed:", *(f"    | {line}" for line in printed[:PRINTED_LINES])]
    more = len(printed) - PRINTED_LINES
    if more > 0:
        lines.append(f"    … {more} more line{'s' if more > 1 else ''}")
    return lines


@register("text")
def render(report: Report) -> str:
    report = student_report(report)
    lines = [" against ".join(printable(name, newlines=False) for name in (report.submission, report.problem_set))]
    if report.metadata.get("import_error"):
        lines.append(f"import error: {printable(report.metadata['import_error'], newlines=False)}")
        lines += ["  " + line for line in printable(report.metadata.get("import_traceback", "")).rstrip().split("\n")
                  if line]
    lines += [f"notebook: {printable(note, newlines=False)}"
              for note in report.metadata.get("notebook", {}).get("skipped", [])]
    explained: set[str] = set()
    for p in report.problems:
        lines += problem_lines(p, explained) + printed_lines(p)
    lines += across_sentence(report)
    lines.append(f"Score: {report.score:g}/{report.max_score:g}")
    return printable("\n".join(lines) + "\n")
