"""`make html` builds the whole site from a fresh copy: every example runs,
with zero warnings, and only docs/ and the generated gallery become pages."""

import json
import os
import re
import sqlite3
import sys
from types import SimpleNamespace

import pytest
from conftest import EXAMPLES, REPO, tutorial_page


def test_build_has_no_warnings_and_runs_every_example(site):
    # Sphinx's warnings and errors (not the Jupyter kernel's own log lines).
    assert not re.search(r"(WARNING|ERROR):", site.log), site.log[-5000:]
    assert (
        f"successfully executed {len(EXAMPLES)} out of {len(EXAMPLES)} files"
        in site.log
    )


def test_examples_are_all_in_the_gallery():
    # Every example file is a tutorial; a misnamed file would silently not run.
    for path in REPO.glob("examples/*/*.py"):
        assert path.name.startswith("plot_"), (
            f"{path} is not run by the gallery (name it plot_*.py)"
        )


def test_only_docs_and_gallery_pages_are_built(site):
    pages = {p.relative_to(site.html).as_posix() for p in site.html.rglob("*.html")}
    sphinx_pages = {"genindex.html", "search.html", "404.html"}
    docs_pages = {
        p.relative_to(REPO / "docs").with_suffix(".html").as_posix()
        for p in (REPO / "docs").rglob("*.md")
        if "_ext" not in p.parts
    }
    gallery_pages = (
        {"auto_examples/index.html"}
        | {
            f"auto_examples/{section.name}/index.html"
            for section in (REPO / "examples").iterdir()
            if section.is_dir()
        }
        | {
            tutorial_page(site.html, e).relative_to(site.html).as_posix()
            for e in EXAMPLES
        }
    )
    assert pages == sphinx_pages | docs_pages | gallery_pages


def test_build_log_is_quiet(site):
    # The kernel's "running over TCP without encryption" line (once per
    # concept notebook) is kept out by docs/_ext/notebook_kernel.py.
    assert "without encryption" not in site.log
    assert "No source code lexer" not in site.log


def test_notebook_cache_exists_before_parallel_readers_start(tmp_path):
    # On a clean `-j auto` build two forked readers could both create
    # jupyter-cache's database; notebook_kernel creates it first, in the
    # main process, at builder-inited.
    sys.path.insert(0, str(REPO / "docs" / "_ext"))
    import notebook_kernel

    cache = tmp_path / "jupyter_cache"
    app = SimpleNamespace(
        outdir=str(tmp_path / "html"),
        config=SimpleNamespace(nb_execution_mode="cache"),
        env=SimpleNamespace(
            mystnb_config=SimpleNamespace(execution_cache_path=str(cache))
        ),
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("JUPYTER_PATH", raising=False)
        notebook_kernel.prepare(app)
        kernel = json.loads(
            (tmp_path / "jupyter" / "kernels" / "python3" / "kernel.json").read_text()
        )
        assert os.environ["JUPYTER_PATH"].split(os.pathsep)[0] == str(
            tmp_path / "jupyter"
        )
    with sqlite3.connect(cache / "global.db") as db:
        tables = {
            row[0]
            for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
    assert "settings" in tables, tables
    assert kernel["argv"][0] == sys.executable, (
        "the notebooks run in the Python that builds the site"
    )


def test_make_html_installs_no_test_tool():
    def pins(lock):  # {name: version} of a lock written by pip-compile (`make lock`)
        return dict(
            re.findall(
                r"^([A-Za-z0-9_.-]+)==(\S+)", (REPO / lock).read_text(), re.MULTILINE
            )
        )

    build, test = pins("requirements.lock"), pins("requirements-test.lock")
    assert build and not set(build) & {
        "pytest",
        "pytest-xdist",
        "playwright",
        "axe-playwright-python",
        "check-jsonschema",
    }
    assert build.items() <= test.items(), "the test lock keeps the build's pins"
    lines = (REPO / "requirements.lock").read_text().splitlines()
    requirements = [
        i for i, line in enumerate(lines) if re.match(r"[A-Za-z0-9_.-]+==", line)
    ]
    assert all(
        lines[i + 1].strip().startswith("--hash=sha256:") for i in requirements
    ), "every pin has its hashes"
