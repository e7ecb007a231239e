"""A single `grade` loads only what grading needs: the command line names its choices
without importing the modules behind them (grader/cli_choices.py, kept equal to the
registries here), and each command imports what it runs when it runs."""
import subprocess
import sys

import pytest

from grader import audit, cli_choices, export
from grader.reports import FORMATS
from grader.reports.excerpt import MAX_INLINE_NUMBERS
from grader.reports.gradescope import HIDDEN_VISIBILITIES
from reference.fd_methods import METHODS
from tests.conftest import ROOT

LAZY = ("numpy", "jsonschema", "yaml", "grader.loader", "grader.batch", "grader.audit", "grader.export",
        "grader.diagnosis", "grader.scaffold", "grader.reference_check", "grader.reports", "grader.grading",
        "reference.models")


def imported_by(code: str) -> set[str]:
    """The modules a fresh interpreter has imported after running `code`."""
    done = subprocess.run([sys.executable, "-c", f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"],
                          capture_output=True, text=True, check=True, cwd=ROOT)
    return set(done.stdout.split())


def test_importing_the_cli_and_building_its_parser_imports_nothing_heavy():
    assert imported_by("import grader.cli\ngrader.cli.parser()") & set(LAZY) == set()


@pytest.mark.parametrize(("offered", "registry"), [
    (cli_choices.REPORT_FORMATS, FORMATS), (cli_choices.AUDIT_FORMATS, audit.FORMATS),
    (cli_choices.PLATFORMS, export.PLATFORMS), (cli_choices.PRAIRIELEARN_HELPERS, export.PRAIRIELEARN_HELPERS),
    (cli_choices.HIDDEN_VISIBILITIES, HIDDEN_VISIBILITIES), (cli_choices.FD_METHODS, METHODS)],
    ids=["report formats", "audit formats", "platforms", "prairielearn helpers", "hidden visibilities",
         "FD methods"])
def test_the_command_line_offers_exactly_what_each_registry_holds(offered, registry):
    assert sorted(offered) == sorted(registry)


def test_the_help_states_the_reports_own_limit():
    assert cli_choices.MAX_INLINE_NUMBERS == MAX_INLINE_NUMBERS


def test_grading_imports_no_batch_audit_export_scaffold_reference_check_jsonschema_or_fd_check():
    command = ["grade", str(ROOT / "problem_sets" / "scalar_bptt.yaml"), str(ROOT / "examples" / "correct.py"),
               "--output", "/dev/null"]
    graded = imported_by(f"from grader.cli import main\nassert main({command!r}) == 0")
    assert graded & {"grader.batch", "grader.audit", "grader.export", "grader.scaffold",
                     "grader.reference_check", "jsonschema", "reference.finite_diff",
                     "reference.vector_finite_diff", "grader.reports.gradescope", "grader.reports.junit",
                     "grader.reports.prairielearn", "xml.etree.ElementTree"} == set()


def test_an_invalid_problem_set_is_worded_by_jsonschema_which_it_then_imports(tmp_path):
    problem_set = tmp_path / "set.yaml"
    problem_set.write_text((ROOT / "problem_sets" / "scalar_bptt.yaml").read_text(encoding="utf-8")
                           .replace("schema_version: 1", "schema_version: 2", 1), encoding="utf-8")
    command = ["grade", str(problem_set), str(ROOT / "examples" / "correct.py")]
    assert "jsonschema" in imported_by(f"from grader.cli import main\nassert main({command!r}) == 2")
