"""Shared fixtures: the site is built once per test session, the way a reader
builds it (`make html`), in a copy of this repository, and then inspected.

Building a copy keeps the tests away from your own build/. Most tests read a
copy of the built tree (``site``); the tests that break, interrupt or edit
examples work in the built tree itself (``built_tree``), one after another,
so only what they change is built again. With pytest-xdist (`make test` runs
`pytest -n auto`) the first worker builds the site under a file lock and the
others wait for it and read the same build.
"""

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

# The tests run several torch processes at once (pytest-xdist workers, their
# builds and standalone runs) on few cores. Waiting OpenMP threads that spin
# take the cores the others need: two notebooks side by side took 10 s each
# instead of 2. Passive waiting changes no result, only who gets the CPU. Set
# before anything imports torch; every process the tests start inherits it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest
from bs4 import BeautifulSoup, SoupStrainer
from filelock import FileLock
from sitebuild import (  # noqa: F401 (re-exported for the tests)
    CONF,
    EXAMPLES,
    REPO,
    Build,
    code_cells,
    copy_built,
    copy_repo,
    gallery_notebook,
    gallery_order,
    interrupt,
    make,
    reader_env,
    start_make,
)
from sphinx_gallery.py_source_parser import split_code_and_text_blocks

# The build helpers (docs/_ext), importable by every test as conf.py imports them.
sys.path.insert(0, str(REPO / "docs" / "_ext"))


def pytest_configure(config):
    # Known without pytest-xdist too (`pytest -p no:xdist`), where it does nothing.
    config.addinivalue_line(
        "markers", "xdist_group(name): run on the one pytest-xdist worker of group NAME"
    )
    config.addinivalue_line(
        "markers", "unit: a test in tests/unit (seconds, no site build, no torch)"
    )


UNIT = Path(__file__).resolve().parent / "unit"


def pytest_collection_modifyitems(items):
    """The tests that need no built site run first: under pytest-xdist one
    worker runs them while another builds the site. The scenarios of
    test_rebuilds.py run last, whatever order the files were named in: they
    edit the built tree and end with `make clean` (see built_tree). The order
    is otherwise kept."""
    # `pytest -m unit` runs the unit tier, as `pytest tests/unit` does.
    for item in items:
        if item.path.is_relative_to(UNIT):
            item.add_marker("unit")
    items.sort(
        key=lambda item: (
            "site" in item.fixturenames,
            item.path.name == "test_rebuilds.py",
        )
    )


class Standalone:
    """tests/standalone.py, started once (with ENV added to a reader's
    environment, in PYTHON's environment): run(kind, path, cwd) runs one
    download alone."""

    def __init__(self, env: dict | None = None, python: Path | str = sys.executable):
        self.server = subprocess.Popen(
            [str(python), str(REPO / "tests" / "standalone.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=reader_env() | (env or {}),
        )

    def run(self, kind, path="", cwd="", **options) -> dict:
        """OPTIONS: standalone.py's optional request keys (rounding, quick_timers)."""
        request = {"kind": kind, "path": str(path), "cwd": str(cwd)} | options
        self.server.stdin.write(json.dumps(request) + "\n")
        self.server.stdin.flush()
        answer = self.server.stdout.readline()
        assert answer, f"the standalone server stopped (exit code {self.server.poll()})"
        return json.loads(answer)

    def close(self):
        self.server.stdin.close()  # the server ends when its input does
        self.server.wait(timeout=60)
        self.server.stdout.close()


def code_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, line) of every line a page shows as code: an example's code
    cells, or a Markdown page's code-cell blocks."""
    if path.suffix == ".py":
        _, blocks = split_code_and_text_blocks(str(path))
        return [
            (start + i, line)
            for kind, text, start in blocks
            if kind == "code"
            for i, line in enumerate(text.split("\n"))
        ]
    lines, inside = [], False
    for number, line in enumerate(
        path.read_text(encoding="utf-8").split("\n"), start=1
    ):
        if line.startswith("```"):
            inside = line.startswith("```{code-cell}")
        elif inside:
            lines.append((number, line))
    return lines


# -- Which examples a test picks ---------------------------------------------------------
# Tests that need one or a few tutorials pick them by a property stated here,
# never by their place in a list, so adding or renaming a tutorial changes no test.


def first_tutorial() -> Path:
    """The tutorial the gallery, and the landing page's start path, open with:
    the page most readers see first."""
    return gallery_order()[0]


RUN_TIME = re.compile(
    r"Total running time of the script:</strong> \((\d+) minutes ([\d.]+) seconds\)"
)


def run_seconds(html: Path, example: Path) -> float:
    """How long EXAMPLE ran in the build under HTML, as its page says."""
    minutes, seconds = RUN_TIME.search(
        tutorial_page(html, example).read_text(encoding="utf-8")
    ).groups()
    return 60 * int(minutes) + float(seconds)


def quickest_examples(html: Path, count: int) -> list[Path]:
    """The COUNT examples that ran fastest in the build under HTML, fastest
    first: the cheapest to run again in a scenario that edits or interrupts
    one (every tutorial prints its outputs and shows a figure)."""
    return sorted(EXAMPLES, key=lambda e: run_seconds(html, e))[:count]


# -- Breakage markers ----------------------------------------------------------------------
# Each tutorial marks a line whose change must make one of its checks fail:
#     # sphinx_gallery_break = ("old", "new")
# above the line, which holds "old" exactly once. sphinx-gallery's
# remove_config_comments keeps the comment out of pages and notebooks.
BREAK_MARKER = re.compile(r"^[ \t]*#\s*sphinx_gallery_break\s*=\s*(?P<value>.+?)\s*$")


@dataclass(frozen=True)
class Breakage:
    """One breakage marker of EXAMPLE: replacing OLD by NEW in line LINE (1-based)."""

    example: Path
    line: int
    old: str
    new: str

    @property
    def name(self) -> str:
        return f"{self.example.parent.name}/{self.example.name}:{self.line}"

    def applied(self) -> str:
        """The example's source with the marked change made; the marked line
        must hold OLD exactly once."""
        lines = self.example.read_text(encoding="utf-8").split("\n")
        assert lines[self.line - 1].count(self.old) == 1, (
            f"{self.name}: the line after the marker holds {self.old!r}"
            f" {lines[self.line - 1].count(self.old)} times, not once:"
            f" {lines[self.line - 1].strip()!r}"
        )
        lines[self.line - 1] = lines[self.line - 1].replace(self.old, self.new)
        return "\n".join(lines)

    def with_line_inserted(self, text: str) -> tuple[str, int]:
        """The example's source with TEXT inserted as a statement of its own
        just before the statement that holds the marked line (at its
        indentation, so the rest still parses), and the line TEXT is on."""
        source = self.example.read_text(encoding="utf-8")
        statement = statement_at(ast.parse(source), self.line)
        lines = source.split("\n")
        lines.insert(statement.lineno - 1, " " * statement.col_offset + text)
        return "\n".join(lines), statement.lineno


def breakages(example: Path) -> list[Breakage]:
    """The breakage markers of EXAMPLE, each with the line it marks: the next
    line that is neither blank nor a comment."""
    lines = example.read_text(encoding="utf-8").split("\n")
    found = []
    for number, line in enumerate(lines, start=1):
        marker = BREAK_MARKER.match(line)
        if not marker:
            continue
        old, new = ast.literal_eval(marker["value"])
        target = next(
            n
            for n in range(number + 1, len(lines) + 1)
            if lines[n - 1].strip() and not lines[n - 1].lstrip().startswith("#")
        )
        found.append(Breakage(example, target, old, new))
    return found


def statement_at(tree: ast.Module, line: int) -> ast.stmt:
    """The innermost statement of TREE whose lines include LINE (a statement
    over several lines counts from its first)."""
    around = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.stmt) and node.lineno <= line <= node.end_lineno
    ]
    # ast.walk goes down level by level: among statements of equal extent, the last is the innermost.
    return min(reversed(around), key=lambda node: node.end_lineno - node.lineno)


def is_check(statement: ast.stmt) -> bool:
    """An assert statement, or a call of an assert function as a statement
    (torch.testing.assert_close(...), numpy's assert_allclose(...), ...)."""
    if isinstance(statement, ast.Assert):
        return True
    call = statement.value if isinstance(statement, ast.Expr) else None
    return isinstance(call, ast.Call) and ast.unparse(call.func).rsplit(".", 1)[
        -1
    ].startswith("assert")


def tutorial_page(html: Path, example: Path) -> Path:
    return html / "auto_examples" / example.parent.name / (example.stem + ".html")


def soup(path: Path, *tags: str) -> BeautifulSoup:
    """The page at PATH, parsed; with TAGS, only those elements (several times faster)."""
    return BeautifulSoup(
        path.read_text(encoding="utf-8"),
        "html.parser",
        parse_only=SoupStrainer(list(tags)) if tags else None,
    )


def page_outputs(page: BeautifulSoup) -> list[str]:
    """The text of every output block under the code cells of a tutorial page."""
    return [block.get_text() for block in page.select("div.sphx-glr-script-out pre")]


# Measured durations and speed ratios differ from run to run; everything else
# a page prints must be the same on every run.
TIMING = re.compile(
    r"\s*(\d[\d,]*(\.\d+)?\s*(ms|s|%)(?=\W|$)|\d+(\.\d+)?x (faster|slower))"
)


def output_lines(text: str) -> list[str]:
    """The non-blank lines of TEXT, with measured timings replaced by <timing>."""
    return [
        TIMING.sub(" <timing>", line.rstrip())
        for line in text.splitlines()
        if line.strip()
    ]


OUTPUT_BLOCKS = SoupStrainer("div", class_=re.compile(r"\bsphx-glr-script-out\b"))
_SHOWN = {}  # (page, mtime, size) -> output lines: each version of a page is parsed once


def shown_lines(html: Path, example: Path) -> list[str]:
    """output_lines of everything the tutorial page of EXAMPLE under HTML shows under its code cells."""
    page = tutorial_page(html, example)
    stat = page.stat()
    key = (page, stat.st_mtime_ns, stat.st_size)
    if key not in _SHOWN:
        outputs = BeautifulSoup(
            page.read_text(encoding="utf-8"), "html.parser", parse_only=OUTPUT_BLOCKS
        )
        _SHOWN[key] = output_lines("\n".join(page_outputs(outputs)))
    return _SHOWN[key]


def shared_tmp(tmp_path_factory) -> Path:
    """This test run's temporary folder, the same for every pytest-xdist worker."""
    shared = tmp_path_factory.getbasetemp()
    return shared.parent if os.environ.get("PYTEST_XDIST_WORKER") else shared


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Build:
    """The site, built once per test run from a fresh copy of the repository.

    Right after the clean build, `make html` runs once more in the same tree
    with nothing changed; its log is ``site.rebuild_log``. The tests read a
    copy of the built tree: the tree itself is for the tests that change and
    rebuild it (``built_tree``)."""
    shared = shared_tmp(tmp_path_factory)
    built, copy, record = (
        shared / "built" / "repo",
        shared / "site" / "repo",
        shared / "site.json",
    )
    with FileLock(str(shared / "site.lock")):
        if not record.exists():
            build = make(copy_repo(built))
            rebuild = make(built) if build.returncode == 0 else build
            copy_built(built, copy)
            if os.environ.get("VJP_COOKBOOK_TESTED_SITE"):
                # CI publishes the site these tests check, not another build of it
                # (.github/workflows/docs.yml uploads this folder).
                shutil.copytree(
                    copy / "build" / "html", os.environ["VJP_COOKBOOK_TESTED_SITE"]
                )
            record.write_text(
                json.dumps(
                    {
                        "build": vars(build) | {"root": str(copy)},
                        "rebuild_log": rebuild.log,
                    }
                )
            )
    saved = json.loads(record.read_text())
    build = Build(**(saved["build"] | {"root": Path(saved["build"]["root"])}))
    assert build.returncode == 0, f"make html failed:\n{build.log[-5000:]}"
    build.rebuild_log = saved["rebuild_log"]
    return build


@pytest.fixture(scope="session")
def built_tree(site, tmp_path_factory) -> Path:
    """The tree the session's site was built in, for the tests that break,
    interrupt, edit and rebuild it: the broken build of test_failures.py, then
    the scenarios of test_rebuilds.py. The other tests read a copy (``site``),
    so these builds start from an up-to-date tree in its own folder and
    re-read only what they change. They run one after another on one
    pytest-xdist worker (group "built-tree", which `--dist loadgroup` keeps
    together; pytest is held below 9.2 in pyproject.toml, which breaks that),
    and each leaves the tree built and whole for the next (the last one runs
    `make clean`)."""
    return shared_tmp(tmp_path_factory) / "built" / "repo"


# -- For the unit tests (tests/unit) ------------------------------------------------------
@pytest.fixture
def fake_app():
    """Makes a stand-in for Sphinx's application: this repository's docs/ and
    examples/, conf.py's gallery folders (or the ones given); the files its
    pages depend on are kept in env.noted."""

    def make(examples_dirs="../examples", gallery_dirs="auto_examples"):
        gallery = {
            "examples_dirs": examples_dirs,
            "gallery_dirs": gallery_dirs,
            "example_extensions": {".py"},
        }
        noted = []
        return SimpleNamespace(
            srcdir=str(REPO / "docs"),
            config=SimpleNamespace(sphinx_gallery_conf=gallery),
            env=SimpleNamespace(note_dependency=noted.append, noted=noted),
        )

    return make
