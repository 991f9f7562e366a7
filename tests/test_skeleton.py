"""Every tutorial page follows one skeleton, and carries no test machinery.

Read from the sources (no site build): each examples/*/plot_*.py and the
template a new page is copied from, docs/tutorial_template.py.

- Its sections (the second-level headings, underlined with ``-``) open with
  "The maths", hold "The checks" exactly once, and end with "The picture"
  and "What to remember". Other sections go between them, under names of
  their own.
- The hand-derived reference its checks compare against is named
  ``expected``.
- It seeds no global generator: a reader who runs one cell after another,
  or one page after another, gets the numbers the page shows only when each
  draw names its ``torch.Generator``.
- It imports no test machinery (``unittest.mock``, ``ast``,
  ``torch.utils._python_dispatch``): what checks torch itself lives in
  tests/test_torch_claims.py.
"""

import ast
import re
from pathlib import Path

import pytest
from conftest import EXAMPLES, REPO
from sphinx_gallery.py_source_parser import split_code_and_text_blocks

PAGES = EXAMPLES + [REPO / "docs" / "tutorial_template.py"]
FIRST = "The maths"
CHECKS = "The checks"
LAST = ("The picture", "What to remember")
GLOBAL_SEEDING = {
    "torch.manual_seed",
    "torch.random.manual_seed",
    "np.random.seed",
    "numpy.random.seed",
    "random.seed",
}
MACHINERY = ("unittest.mock", "ast", "torch.utils._python_dispatch")


def sections(path: Path) -> list[str]:
    """The second-level headings of the page at PATH, in order: a text line
    under a blank line (or first in its text block) underlined with at least
    as many ``-``."""
    _, blocks = split_code_and_text_blocks(str(path))
    found = []
    for kind, text, _ in blocks:
        lines = text.split("\n")
        for i, line in enumerate(lines[:-1]):
            title = line.strip()
            underline = lines[i + 1].strip()
            if (
                title
                and (i == 0 or not lines[i - 1].strip())
                and re.fullmatch(r"-+", underline)
                and len(underline) >= len(title)
            ):
                found.append(title)
    return found


def skeleton_problems(headings: list[str]) -> list[str]:
    problems = []
    if headings[:1] != [FIRST]:
        problems.append(f"the first section is {headings[:1]}, not {FIRST!r}")
    if tuple(headings[-2:]) != LAST:
        problems.append(f"the last two sections are {headings[-2:]}, not {list(LAST)}")
    if headings.count(CHECKS) != 1:
        problems.append(f"{CHECKS!r} occurs {headings.count(CHECKS)} times, not once")
    return problems


def dotted(node: ast.AST) -> str:
    """``a.b.c`` for an attribute chain on a name, else ''."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return ".".join([node.id, *reversed(parts)]) if isinstance(node, ast.Name) else ""


def assigned_names(tree: ast.AST) -> set[str]:
    return {
        node.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
    }


def global_seeding(tree: ast.AST) -> list[str]:
    return [
        f"line {node.lineno}: {dotted(node.func)}(...)"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and dotted(node.func) in GLOBAL_SEEDING
    ]


def machinery(tree: ast.AST) -> list[str]:
    """Imports of MACHINERY (or of a module inside it), and attribute chains
    that reach it without an import (``torch.utils._python_dispatch.X``)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [
                f"{node.module}.{alias.name}" for alias in node.names
            ]
        elif isinstance(node, ast.Attribute):
            names = [dotted(node)] if dotted(node) in MACHINERY else []
        else:
            continue
        hits = [
            name
            for name in names
            for bad in MACHINERY
            if name == bad or name.startswith(bad + ".")
        ]
        if hits:
            found.append(f"line {node.lineno}: {hits[0]}")
    return found


def parsed(path: Path) -> ast.AST:
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


PAGE = pytest.mark.parametrize(
    "path", PAGES, ids=lambda p: p.relative_to(REPO).as_posix()
)


@PAGE
def test_sections_follow_the_skeleton(path):
    headings = sections(path)
    problems = skeleton_problems(headings)
    assert not problems, f"sections {headings}:\n" + "\n".join(problems)


@PAGE
def test_the_hand_derived_reference_is_named_expected(path):
    assert "expected" in assigned_names(parsed(path)), (
        "no variable `expected` is assigned"
    )


@PAGE
def test_no_global_seeding(path):
    found = global_seeding(parsed(path))
    assert not found, "seed a torch.Generator and pass it as generator=:\n" + "\n".join(
        found
    )


@PAGE
def test_no_test_machinery_on_a_readers_page(path):
    found = machinery(parsed(path))
    assert not found, "test machinery belongs in tests/:\n" + "\n".join(found)


def test_the_readers_see_what_they_look_for(tmp_path):
    page = tmp_path / "plot_x.py"
    page.write_text(
        '"""\nTitle\n=====\n\nText.\n"""\n\n# %%\n# The maths\n# ---------\n#\n# Sub\n# ~~~\n\n'
        "import ast\nfrom unittest import mock\nimport numpy as np\nimport torch\n\n"
        "expected, other = 1, 2\ntorch.manual_seed(0)\nnp.random.seed(1)\n"
        "g = torch.Generator().manual_seed(2)\nm = torch.utils._python_dispatch.TorchDispatchMode\n\n"
        "# %%\n# The checks\n# ----------\n\n# %%\n# Not a heading\n# --\n\n"
        "# %%\n# The picture\n# -----------\n"
    )
    assert sections(page) == ["The maths", "The checks", "The picture"]
    assert skeleton_problems(sections(page)) == [
        "the last two sections are ['The checks', 'The picture'], not ['The picture', 'What to remember']"
    ]
    assert skeleton_problems(
        ["The checks", "The checks", "The picture", "What to remember"]
    ) == [
        "the first section is ['The checks'], not 'The maths'",
        "'The checks' occurs 2 times, not once",
    ]
    tree = parsed(page)
    assert {"expected", "other", "g"} <= assigned_names(tree)
    assert global_seeding(tree) == [
        "line 21: torch.manual_seed(...)",
        "line 22: np.random.seed(...)",
    ]
    assert machinery(tree) == [
        "line 15: ast",
        "line 16: unittest.mock",
        "line 24: torch.utils._python_dispatch",
    ]
