"""Code shown in a table is code the build runs, as written.

A table of calls (the cheat sheet, the equivalent-calls table, the choice of
method) is where a reader copies from, and where a call that was never run
goes wrong unseen: ``torch.autograd.gradcheck.gradcheck(fn, (x,))`` stood in
the cheat sheet and raises ``AttributeError``. So every call in a table's
code spans (a name followed by an opening bracket, with the role's name in
front when a role and a span make one call, as in
``{func}`torch.func.grad` `(g)(x)```) must appear in the code the build runs:
that page's own code cells, or the code of the tutorial the row links to.
Module prefixes (``torch.func.``, ``autograd.`` ...) and spaces are ignored
when comparing, so ``vmap(grad(loss_one))`` is found in
``torch.func.vmap(torch.func.grad(loss_one))``. The values the calls return
are checked by those cells; this test checks that the calls are there."""

import json
import re

import pytest
from conftest import EXAMPLES, REPO, code_lines
from sphinx_gallery.py_source_parser import split_code_and_text_blocks

DOCS = REPO / "docs"
# contributing.md's tables hold shell commands, which the tests run (test_build, test_rebuilds).
TABLE_PAGES = sorted(
    p
    for p in DOCS.rglob("*.md")
    if "auto_examples" not in p.parts and p.name != "contributing.md"
)

MD_SPAN = re.compile(
    r"(?:\{(?:func|meth|class)\}`(?P<role>[\w.]+)`\s*)?(?<!`)`(?P<span>[^`]+)`(?!`)"
)
RST_SPAN = re.compile(
    r"(?::(?:func|meth|class):`~?(?P<role>[\w.]+)`\s*)?``(?P<span>[^`]+)``"
)
CALL = re.compile(r"^\.?[A-Za-z_][\w.]*\(")
PREFIX = re.compile(
    r"\b(?:torch\.)?(?:func|autograd|functional|forward_ad|fwAD|testing|utils|benchmark)\."
)
LINKED_TUTORIAL = re.compile(r"sphx_glr_auto_examples_(\w+?)_(plot_\w+)\.py")


def normal(code: str) -> str:
    return PREFIX.sub("", re.sub(r"\s+", "", code.replace("torch.", "")))


def calls_in(text: str, span_pattern: re.Pattern) -> list[str]:
    """The calls in TEXT's code spans; a role followed by a span that opens a bracket is one call."""
    found = []
    for match in span_pattern.finditer(text):
        span, role = match["span"].strip(), match["role"]
        if role and span.startswith("("):
            # A method is called on some tensor: {meth}`torch.Tensor.backward` `(gradient=v)`.
            found.append(role.replace("torch.Tensor", "") + span)
        elif CALL.match(span):
            found.append(span)
    return found


def markdown_rows(path) -> list[tuple[str, str]]:
    """(row, code its calls must be in) for each body row of each pipe table of PATH.

    That code is the code of the tutorials the row links to; for a row that
    links to none, of the tutorials the paragraph above the table links to;
    failing that, the page's own code cells."""
    text = path.read_text()
    own_code = joined_code(path)
    rows = []
    for paragraph, table in re.findall(r"((?:[^\n]+\n)*)\n((?:\|[^\n]*\n)+)", text):
        body = [
            line for line in table.splitlines()[2:]
        ]  # after the header and its rule
        rows += [
            (line, linked_code(line) or linked_code(paragraph) or own_code)
            for line in body
        ]
    return rows


def linked_code(row: str) -> str:
    """The code of the tutorials ROW links to, or '' if it links to none."""
    code = []
    for section, stem in LINKED_TUTORIAL.findall(row):
        (example,) = [
            e for e in EXAMPLES if e.parent.name == section and e.stem == stem
        ]
        code.append(joined_code(example))
    return "\n".join(code)


def joined_code(path) -> str:
    """The code PATH's page runs, as one text (conftest.code_lines, joined)."""
    return "\n".join(line for _, line in code_lines(path))


def example_tables(example) -> list[tuple[str, str]]:
    """(table text, the example's code) for each list-table in the example's text cells."""
    _, blocks = split_code_and_text_blocks(str(example))
    tables = []
    for kind, content, _ in blocks:
        if kind == "text":
            tables += [
                (t, joined_code(example))
                for t in re.findall(r"\.\. list-table::.*?(?=\n\S|\Z)", content, re.S)
            ]
    return tables


def missing_calls(table: str, code: str, span_pattern: re.Pattern) -> list[str]:
    haystack = normal(code)
    return [
        call for call in calls_in(table, span_pattern) if normal(call) not in haystack
    ]


TABLES = [
    (f"{p.relative_to(REPO)}: {row[:60]}", row, code, MD_SPAN)
    for p in TABLE_PAGES
    for row, code in markdown_rows(p)
]
TABLES += [
    (f"{e.relative_to(REPO)}: list-table", t, code, RST_SPAN)
    for e in EXAMPLES
    for t, code in example_tables(e)
]


def test_the_tables_are_found():
    """The pages with tables of calls are all read (a parser that found none would pass everything)."""
    names = {name.split(":")[0] for name, *_ in TABLES}
    assert {
        "docs/concepts/cheat_sheet.md",
        "docs/concepts/choosing_a_method.md",
        "examples/jacobians/plot_03_functional_to_torch_func.py",
    } <= names, names
    assert sum(len(calls_in(t, p)) for _, t, _, p in TABLES) >= 40


@pytest.mark.parametrize(
    "name, table, code, span_pattern", TABLES, ids=[t[0] for t in TABLES]
)
def test_every_call_in_a_table_is_run(name, table, code, span_pattern):
    assert code, f"{name}: no code runs on this page or on a tutorial the row links to"
    missing = missing_calls(table, code, span_pattern)
    assert not missing, (
        f"{name}: these calls are shown but never run as written: {missing}"
    )


def test_the_comparison_ignores_prefixes_and_spaces_only():
    code = "rows = torch.func.vmap(torch.func.grad(loss_one))(x)\ntorch.autograd.gradcheck(fn, (x,))"
    assert (
        missing_calls(
            "`vmap(grad(loss_one))` and {func}`torch.autograd.gradcheck` `(fn, (x,))`",
            code,
            MD_SPAN,
        )
        == []
    )
    assert missing_calls("`vmap(grad(loss))`", code, MD_SPAN) == ["vmap(grad(loss))"]
    assert (
        missing_calls(
            "{func}`torch.autograd.gradcheck.gradcheck` `(fn, (x,))`", code, MD_SPAN
        )
        != []
    )
    assert json.dumps(calls_in("`(m, n)` and `vᵀJ`", MD_SPAN)) == "[]", (
        "shapes and maths are not calls"
    )
