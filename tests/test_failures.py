"""Failures are loud.

In the build: a wrong derivative, an exception or a syntax error in an
example (or maths that cannot be typeset) makes `make html` exit non-zero,
naming the example, the line and what failed. Shown once, in the tree the
session's site was built in, with the first three tutorials in gallery order
broken (one each way) and a broken page; undoing the breakages and building
again runs those examples again and gives their pages back as they were.

In every tutorial: each breakage marker (``# sphinx_gallery_break = ("old",
"new")`` above the line to change; see tests/README.md) makes one of its
checks fail: an ``assert`` or an ``assert_*`` call, at or after the changed
line, with an AssertionError. Each broken copy is run the way the gallery runs
an example (in one Python process, from a fresh torch state), so the build
would fail on it in the same way.
"""

import ast
import importlib
import re
import traceback
from pathlib import Path

import matplotlib
import pytest
from conftest import (
    CONF,
    EXAMPLES,
    REPO,
    breakages,
    gallery_order,
    is_check,
    make,
    shown_lines,
    statement_at,
    tutorial_page,
)

matplotlib.use("Agg")

# The tutorials, and the template a new one is copied from.
MARKED = EXAMPLES + [REPO / "docs" / "tutorial_template.py"]
MARKERS = {example: breakages(example) for example in MARKED}
TUTORIAL_BREAKAGES = [b for found in MARKERS.values() for b in found]

# The build breakages, each in one of the first three tutorials in gallery
# order, at its first marker: the marked change (a wrong derivative), and
# before the statement holding the marked line a raise and an unmatched
# bracket, which Python reports at that line. (kind, example)
FIRST_THREE = gallery_order()[:3]
BUILD_BREAKAGES = dict(
    zip(("wrong derivative", "exception", "syntax error"), FIRST_THREE)
)
RAISED = 'raise RuntimeError("deliberately broken")'
UNMATCHED = "deliberately_broken = )"


def build_breakage(kind: str) -> tuple[str, int]:
    """The source of KIND's example broken that way, and the line the
    failure must be reported at (for the wrong derivative, the first line
    that may hold the failing check: the marked line)."""
    first = MARKERS[BUILD_BREAKAGES[kind]][0]
    if kind == "wrong derivative":
        return first.applied(), first.line
    return first.with_line_inserted(RAISED if kind == "exception" else UNMATCHED)


def reported_lines(log: str, example: str) -> list[int]:
    """The lines of EXAMPLE that tracebacks in LOG name, in order."""
    return [int(n) for n in re.findall(re.escape(example) + r'", line (\d+)', log)]


@pytest.fixture(
    scope="session"
)  # made once, however pytest-xdist orders the tests around it
def broken_build(site, built_tree):
    """The built tree with each build breakage in its own example, built; then
    with every breakage undone, built again. Returns both builds and, for each
    breakage, its example's broken source and the line of its failure."""
    root = built_tree
    originals = {}
    broken = {}
    for kind, example in BUILD_BREAKAGES.items():
        path = root / "examples" / example.parent.name / example.name
        originals[path] = path.read_text()
        broken[kind] = build_breakage(kind)
        path.write_text(broken[kind][0])
    index = root / "docs" / "index.md"
    originals[index] = index.read_text()
    index.write_text(originals[index] + "\n\n$\\notacommand{x}$\n")
    broken_run = make(root)
    for path, text in originals.items():
        path.write_text(text)
    return broken_run, broken, make(root)


# These tests share the built tree with tests/test_rebuilds.py (see conftest.built_tree).
@pytest.mark.xdist_group("built-tree")
@pytest.mark.parametrize("kind", BUILD_BREAKAGES)
def test_broken_example_fails_the_build_with_file_and_line(broken_build, kind):
    build, broken, _ = broken_build
    assert build.returncode != 0
    example = BUILD_BREAKAGES[kind]
    name = f"{example.parent.name}/{example.name}"
    assert f"../examples/{name} failed leaving traceback" in build.log, build.log[
        -5000:
    ]
    lines = reported_lines(build.log, name)
    assert lines, f"no line of {name} named in the log:\n{build.log[-5000:]}"
    source, line = broken[kind]
    if kind == "wrong derivative":
        failing = statement_at(ast.parse(source), lines[-1])
        assert is_check(failing) and lines[-1] >= line, (
            f"{name}: reported at line {lines[-1]}, not at a check at or after line {line}"
        )
    else:
        assert lines[-1] == line, (
            f"{name}: reported at line {lines[-1]}, not at the broken line {line}"
        )


@pytest.mark.xdist_group("built-tree")
def test_failure_messages_say_what_failed(broken_build):
    build, _, _ = broken_build
    assert "AssertionError" in build.log
    assert "RuntimeError: deliberately broken" in build.log
    assert "SyntaxError: unmatched ')'" in build.log
    assert f"Unexpected failing examples ({len(BUILD_BREAKAGES)})" in build.log


@pytest.mark.xdist_group("built-tree")
def test_unsupported_maths_is_reported_where_it_is(broken_build):
    build, _, _ = broken_build
    assert "index.md" in build.log and 'cannot typeset "\\notacommand"' in build.log


@pytest.mark.xdist_group("built-tree")
def test_undoing_a_breakage_runs_the_example_again_and_restores_its_page(
    site, broken_build, built_tree
):
    """sphinx-gallery keeps a failed example's last good .md5; without
    docs/_ext/gallery_guard.py the undone example would not run again and its
    page would keep showing the traceback from a build that passes."""
    _, _, fixed = broken_build
    assert fixed.returncode == 0, fixed.log[-5000:]
    assert "updating environment: 0 added," in fixed.log, (
        "the build after the failure read every page again: Sphinx had dropped its environment"
    )
    assert (
        f"successfully executed {len(BUILD_BREAKAGES)} out of {len(BUILD_BREAKAGES)}"
        in fixed.log
    ), fixed.log[-3000:]
    html = built_tree / "build" / "html"
    for example in BUILD_BREAKAGES.values():
        assert shown_lines(html, example) == shown_lines(site.html, example), (
            example.name
        )
        assert "Traceback" not in tutorial_page(html, example).read_text()


def test_a_failed_example_fails_the_build_without_w_too():
    """sphinx-gallery only warns of failed examples (conf.py), so that Sphinx
    keeps its environment; gallery_guard makes the build fail for them even
    when warnings are not errors."""
    import gallery_guard

    class App:
        statuscode = 0

        class config:  # noqa: N801 (a stand-in for Sphinx's config)
            sphinx_gallery_conf = {"failing_examples": {}}

    app = App()
    gallery_guard.fail_the_build(app, None)
    assert app.statuscode == 0
    app.config.sphinx_gallery_conf["failing_examples"]["examples/basics/plot_01.py"] = (
        "Traceback ..."
    )
    gallery_guard.fail_the_build(app, None)
    assert app.statuscode == 1


@pytest.mark.parametrize("example", MARKED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_tutorial_marks_a_breakage(example):
    assert MARKERS[example], (
        f'{example.parent.name}/{example.name} has no "# sphinx_gallery_break = (old, new)" marker (tests/README.md)'
    )


def gallery_resets() -> list:
    """The functions conf.py's sphinx_gallery_conf["reset_modules"] names
    ("module.function"), which the gallery calls before and after each example."""
    named = [
        r
        for r in CONF["sphinx_gallery_conf"]["reset_modules"]
        if isinstance(r, str) and "." in r
    ]
    return [
        getattr(importlib.import_module(module), function)
        for module, function in (r.rsplit(".", 1) for r in named)
    ]


def failure(source: str, path: Path) -> BaseException | None:
    """What running SOURCE as the example at PATH raises (None if it runs to
    the end), run as the gallery runs it: in this process, after and before
    the gallery's resets, in the current folder."""
    for reset in gallery_resets():
        reset({}, str(path), "before")
    try:
        exec(
            compile(source, str(path), "exec"),
            {"__name__": "__main__", "__file__": str(path)},
        )
    except Exception as error:  # noqa: BLE001 (any failure, then checked)
        return error
    finally:
        for reset in gallery_resets():
            reset({}, str(path), "after")
        import matplotlib.pyplot as plt

        plt.close("all")
    return None


@pytest.mark.parametrize("breakage", TUTORIAL_BREAKAGES, ids=lambda b: b.name)
def test_a_marked_breakage_fails_a_check_of_the_tutorial(
    breakage, tmp_path, monkeypatch
):
    path = breakage.example
    source = breakage.applied()
    monkeypatch.chdir(tmp_path)
    error = failure(source, path)
    assert error is not None, (
        f"{breakage.name}: with {breakage.old!r} -> {breakage.new!r} the example ran to the end"
    )
    frames = [
        f for f in traceback.extract_tb(error.__traceback__) if f.filename == str(path)
    ]
    assert frames, f"{breakage.name}: failed outside the example: {error!r}"
    line = frames[-1].lineno
    statement = statement_at(ast.parse(source), line)
    where = f"{breakage.name}: failed at line {line} ({source.split(chr(10))[line - 1].strip()!r}) with {type(error).__name__}: {str(error)[:300]}"
    assert isinstance(error, AssertionError) and is_check(statement), (
        f"{where}, not at a check"
    )
    assert statement.end_lineno >= breakage.line, f"{where}, before the changed line"
