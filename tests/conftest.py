"""Shared fixtures: the site is built once per test session, the way a reader
builds it (`make html`), in a copy of this repository, and then inspected.

Building a copy keeps the tests away from your own build/. The tests that
break, interrupt or edit examples work on copies of that one built tree, so
only what they change runs again. With pytest-xdist (`make test` runs
`pytest -n auto`) the first worker builds the site under a file lock and the
others wait for it and read the same build.
"""

import json
import os
import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from filelock import FileLock

from sitebuild import (  # noqa: F401 (re-exported for the tests)
    EXAMPLES,
    REPO,
    Build,
    copy_built,
    copy_repo,
    interrupt,
    make,
    reader_env,
    start_make,
)


def tutorial_page(html: Path, example: Path) -> Path:
    return html / "auto_examples" / example.parent.name / (example.stem + ".html")


def soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def page_outputs(page: BeautifulSoup) -> list[str]:
    """The text of every output block under the code cells of a tutorial page."""
    return [block.get_text() for block in page.select("div.sphx-glr-script-out pre")]


# Measured durations and speed ratios differ from run to run; everything else
# a page prints must be the same on every run.
TIMING = re.compile(r"\s*(\d[\d,]*(\.\d+)?\s*(ms|s)\b|\d+(\.\d+)?x (faster|slower))")


def output_lines(text: str) -> list[str]:
    """The non-blank lines of TEXT, with measured timings replaced by <timing>."""
    return [TIMING.sub(" <timing>", line.rstrip()) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Build:
    """The site, built once per test run from a fresh copy of the repository.

    Right after the clean build, `make html` runs once more in the same tree
    with nothing changed; its log is ``site.rebuild_log``."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # this run's folder, the same for every xdist worker
    root, record = shared / "site" / "repo", shared / "site.json"
    with FileLock(str(shared / "site.lock")):
        if not record.exists():
            build = make(copy_repo(root))
            rebuild = make(root) if build.returncode == 0 else build
            record.write_text(json.dumps({"build": vars(build) | {"root": str(root)}, "rebuild_log": rebuild.log}))
    saved = json.loads(record.read_text())
    build = Build(**(saved["build"] | {"root": Path(saved["build"]["root"])}))
    assert build.returncode == 0, f"make html failed:\n{build.log[-5000:]}"
    build.rebuild_log = saved["rebuild_log"]
    return build

