"""Notebook submissions (.ipynb): the Python of a notebook's code cells, read with nbformat.

By default ("definitions") only what a module's top level should hold is kept from each code
cell: imports, function and class definitions, and assignments of constants, so that a
notebook's training loops, plots and tests never run; IPython magics (`%…`, `%%…` cells) and
shell lines (`!…`) are dropped first, and a cell that still does not parse is skipped with a
note. "all" runs every code cell in order instead (magics and shell lines still dropped).
"""
import ast

MODES = ("definitions", "all")
DEFINITIONS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


class NotebookUnreadable(Exception):
    """The file is not a notebook nbformat can read."""


def code_cells(path: str) -> list[str]:
    """The source of each code cell, in order."""
    try:
        import nbformat
    except ImportError:
        raise NotebookUnreadable("grading a notebook needs nbformat: pip install 'bptt-grade[notebooks]'") from None
    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception as error:  # nbformat raises many kinds on a damaged file
        raise NotebookUnreadable(f"is not a notebook nbformat can read ({type(error).__name__})") from None
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


def without_magics(source: str) -> str:
    """A cell without IPython magics and shell lines (a %%cell magic drops the whole cell);
    dropped lines become blank, so line numbers stay the cell's."""
    if source.lstrip().startswith("%%"):
        return ""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def _constant(node: ast.AST) -> bool:
    try:
        ast.literal_eval(node)
        return True
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False


def kept(node: ast.stmt) -> bool:
    """Whether a top-level statement is a definition, an import or a constant's assignment."""
    if isinstance(node, DEFINITIONS):
        return True
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        return node.value is not None and _constant(node.value)
    return False


def python_source(path: str, mode: str = "definitions") -> tuple[str, list[str]]:
    """The module a notebook makes, and a note for each cell skipped (1-based among code cells)."""
    parts, notes = [], []
    for number, cell in enumerate(code_cells(path), 1):
        source = without_magics(cell)
        try:
            tree = ast.parse(source)
        except SyntaxError as error:
            notes.append(f"code cell {number} does not parse ({error.msg}, line {error.lineno}): skipped")
            continue
        if mode == "all":
            parts.append(source)
            continue
        lines = source.splitlines()
        for node in tree.body:
            if kept(node):
                first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
                parts.append("\n".join(lines[first - 1:node.end_lineno]))
    return "\n\n".join(parts) + "\n", notes
