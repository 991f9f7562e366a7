"""The sources hold no control characters, and no TeX that Python ate.

A Python string without ``r`` turns ``\\times`` into a TAB followed by
``imes``, ``\\frac`` into a form feed and ``rac``, ``\\nabla`` into a newline
and ``abla``; KaTeX then typesets "imes" as four italic letters, and
matplotlib draws it in a figure. Checked three ways: in the text of every
source file (a script that wrote a page through such a string leaves the
TAB in the file), in every string an example's code evaluates, and in every
non-raw string literal that holds maths."""

import ast
import io
import re
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest
from conftest import EXAMPLES, REPO, code_lines

GENERATED = ("auto_examples", "gen_modules", "_ext/katex")
SOURCES = sorted(
    p
    for folder in ("examples", "docs")
    for p in (REPO / folder).rglob("*")
    if p.suffix in (".py", ".md", ".rst", ".txt")
    and not any(part in p.as_posix() for part in GENERATED)
)
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")  # all but newline
# In a string literal: a Python escape that starts a TeX command (\t in
# \times, \f in \frac, \b in \beta, \v in \vec, \a in \alpha, \r in \rho;
# \n only before what follows it in TeX's commands, since a title may break a line).
EATEN_TEX = re.compile(r"(?<!\\)(\\[abfrtv][a-zA-Z]|\\n(abla|eq|u|ot|eg|i|exists)\b)")


def control_characters(text: str, name: str) -> list[str]:
    return [
        f"{name}:{text.count(chr(10), 0, m.start()) + 1}: {m.group()!r}"
        for m in CONTROL.finditer(text)
    ]


def eaten_maths(source: str, name: str) -> list[str]:
    """Non-raw string literals of SOURCE that hold maths ($ or :math:) and an escape that ate a TeX command."""
    found = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type != tokenize.STRING:
            continue
        prefix = re.match(r"[a-zA-Z]*", token.string).group().lower()
        if "r" in prefix or not ("$" in token.string or ":math:" in token.string):
            continue
        for match in EATEN_TEX.finditer(token.string):
            found.append(
                f"{name}:{token.start[0]}: {match.group()!r} in a string without r"
            )
    return found


def evaluated_control_characters(source: str, name: str) -> list[str]:
    """String constants of SOURCE whose value holds a control character (newline and TAB-free)."""
    return [
        f"{name}:{node.lineno}: {CONTROL.search(node.value).group()!r} in {node.value[:40]!r}"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and CONTROL.search(node.value)
    ]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_no_control_characters_in_sources(path):
    name = path.relative_to(REPO).as_posix()
    text = path.read_text(encoding="utf-8")
    problems = control_characters(text, name)
    if path.suffix == ".py":
        problems += evaluated_control_characters(text, name) + eaten_maths(text, name)
    assert not problems, "\n".join(problems)


def test_the_checks_see_eaten_tex():
    source = 'title = "$n \\times n$"\nlabel = r"$\\frac{1}{2}$"\ntext = """:math:`\\nabla f`"""\nplain = "a\\nb"\n'
    assert [p.split(": ", 1)[1] for p in eaten_maths(source, "x")] == [
        "'\\\\ti' in a string without r",
        "'\\\\nabla' in a string without r",
    ]
    assert len(evaluated_control_characters(source, "x")) == 1  # the TAB of \times
    assert control_characters("n \times n", "x") == ["x:1: '\\t'"]
    assert EXAMPLES and all(p in SOURCES for p in EXAMPLES)


# -- Code that fits a code cell ------------------------------------------------------
# furo's content column shows 90 characters of code at 1280 px and wider
# (pyproject.toml's [tool.ruff] says how that was measured); tests/test_browser.py
# checks on the built pages that no code cell scrolls.
CODE_WIDTH = 88
RUFF = Path(sys.executable).parent / "ruff"


NOTEBOOK_PAGES = sorted(
    p
    for p in SOURCES
    if p.suffix == ".md" and "{code-cell}" in p.read_text(encoding="utf-8")
)


@pytest.mark.parametrize(
    "path", EXAMPLES + NOTEBOOK_PAGES, ids=lambda p: p.relative_to(REPO).as_posix()
)
def test_code_lines_fit_a_code_cell(path):
    long = [
        f"{path.name}:{n}: {len(line)} characters"
        for n, line in code_lines(path)
        if len(line) > CODE_WIDTH
    ]
    assert not long, "\n".join(long)


def test_the_width_check_reads_code_not_prose(tmp_path):
    example = tmp_path / "plot_x.py"
    example.write_text(
        '"""\nT\n=\n\nx\n"""\n\n# %%\n# '
        + "p" * 100
        + "\n\nx = 1  # "
        + "c" * 90
        + "\n"
    )
    assert [len(line) for _, line in code_lines(example) if len(line) > CODE_WIDTH] == [
        99
    ]
    page = tmp_path / "p.md"
    page.write_text(
        "text " * 30
        + "\n```{code-cell} ipython3\n"
        + "y" * 89
        + "\n```\n```text\n"
        + "z" * 99
        + "\n```\n"
    )
    assert [len(line) for _, line in code_lines(page)] == [89]


def test_make_lint_passes():
    """`make lint`: ruff format, ruff check and codespell, configured in pyproject.toml."""
    codespell = RUFF.with_name("codespell")
    for command in (
        [RUFF, "format", "--check", "--diff"],
        [RUFF, "check", "--no-fix"],
        [codespell],
    ):
        run = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
        assert run.returncode == 0, (
            f"{' '.join(map(str, command[1:]))} (make lint FIX=1 fixes most):\n{run.stdout}{run.stderr}"
        )


# -- Each page's lesson, in one line on the gallery index ----------------------------------
LESSON = re.compile(
    r"^- :ref:`(?P<name>[^<`]+) <sphx_glr_auto_examples_(?P<section>\w+?)_(?P<stem>plot_\w+)\.py>`: (?P<lesson>.+)$"
)
LESSON_CHARACTERS = 100  # the lesson after the page's short name, TeX included


def lessons(header) -> list[re.Match]:
    return [
        m
        for m in map(LESSON.match, header.read_text(encoding="utf-8").splitlines())
        if m
    ]


@pytest.mark.parametrize(
    "section", sorted({e.parent for e in EXAMPLES}), ids=lambda p: p.name
)
def test_the_index_says_each_pages_lesson_in_one_line(section):
    """Each section's header (the gallery index shows it above the cards) lists
    every page of the section once, in order, linked, with its lesson in one
    line; no two pages teach the same lesson."""
    found = lessons(section / "GALLERY_HEADER.rst")
    assert [(m["section"], m["stem"]) for m in found] == [
        (section.name, e.stem) for e in EXAMPLES if e.parent == section
    ]
    too_long = [m["lesson"] for m in found if len(m["lesson"]) > LESSON_CHARACTERS]
    assert not too_long, too_long
    assert len({m["lesson"] for m in found}) == len(found)


def test_the_lesson_lines_are_read(tmp_path):
    header = tmp_path / "GALLERY_HEADER.rst"
    header.write_text(
        "T\n-\n\n- :ref:`Name <sphx_glr_auto_examples_basics_plot_01_x.py>`: a lesson.\n- not one\n"
    )
    assert [(m["stem"], m["lesson"]) for m in lessons(header)] == [
        ("plot_01_x", "a lesson.")
    ]
