"""`make html` builds the whole site from a fresh copy: every example runs,
with zero warnings, and only docs/ and the generated gallery become pages."""

import re

from conftest import EXAMPLES, REPO, tutorial_page


def test_build_has_no_warnings_and_runs_every_example(site):
    # Sphinx's warnings and errors (not the Jupyter kernel's own log lines).
    assert not re.search(r"(WARNING|ERROR):", site.log), site.log[-5000:]
    assert f"successfully executed {len(EXAMPLES)} out of {len(EXAMPLES)} files" in site.log


def test_examples_are_all_in_the_gallery():
    # Every example file is a tutorial; a misnamed file would silently not run.
    for path in REPO.glob("examples/*/*.py"):
        assert path.name.startswith("plot_"), f"{path} is not run by the gallery (name it plot_*.py)"
    assert len(EXAMPLES) >= 5


def test_only_docs_and_gallery_pages_are_built(site):
    pages = {p.relative_to(site.html).as_posix() for p in site.html.rglob("*.html")}
    sphinx_pages = {"genindex.html", "search.html", "404.html"}
    docs_pages = {
        p.relative_to(REPO / "docs").with_suffix(".html").as_posix()
        for p in (REPO / "docs").rglob("*.md")
        if "_ext" not in p.parts
    }
    gallery_pages = {"auto_examples/index.html"} | {
        f"auto_examples/{section.name}/index.html"
        for section in (REPO / "examples").iterdir()
        if section.is_dir()
    } | {tutorial_page(site.html, e).relative_to(site.html).as_posix() for e in EXAMPLES}
    assert pages == sphinx_pages | docs_pages | gallery_pages
