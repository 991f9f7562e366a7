"""Rebuilding: a build interrupted half-way and then `make html` again gives
the complete site; an unchanged rebuild runs no example; editing one example
re-runs that one only; `make clean` removes everything generated.

The tests of this file share one copy of the repository and run in order."""

import os
import signal
import time

import pytest

from conftest import (
    EXAMPLES,
    copy_repo,
    interrupt,
    make,
    output_lines,
    page_outputs,
    soup,
    start_make,
    tutorial_page,
)

GALLERY = ("docs", "auto_examples")


def kill_when_first_example_has_run(root, sig):
    """Start `make html` and interrupt it as soon as the first example's .md5 appears:
    the moment when that example has run but its page may not be written yet."""
    files_before = files_of(root)
    process = start_make(root)
    deadline = time.monotonic() + 300
    while not list(root.joinpath(*GALLERY).rglob("*.py.md5")):
        assert process.poll() is None, "the build ended before any example ran"
        assert time.monotonic() < deadline, "no example ran within 300 s"
        time.sleep(0.005)
    interrupt(process, sig)
    assert process.returncode != 0
    return files_before


def files_of(root):
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def assert_complete_site(site, root):
    """Every tutorial page of ROOT's build shows what the session's clean build shows."""
    for example in EXAMPLES:
        page = soup(tutorial_page(root / "build" / "html", example))
        expected = soup(tutorial_page(site.html, example))
        shown, expected_lines = (output_lines("\n".join(page_outputs(p))) for p in (page, expected))
        assert shown == expected_lines, f"{example.name}: outputs differ"
        images = page.select("img.sphx-glr-single-img, img.sphx-glr-multi-img")
        assert images, f"{example.name}: figure missing"
        for img in images:
            assert (tutorial_page(root / "build" / "html", example).parent / img["src"]).is_file()


def executed(build):
    marker = "successfully executed "
    assert marker in build.log, build.log[-3000:]
    return int(build.log.split(marker, 1)[1].split()[0])


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    root = copy_repo(tmp_path_factory.mktemp("rebuilds") / "repo")
    return root, kill_when_first_example_has_run(root, signal.SIGKILL)


def test_killed_build_then_make_html_gives_the_complete_site(site, repo):
    root, _ = repo
    build = make(root)
    assert build.returncode == 0, build.log[-5000:]
    assert_complete_site(site, root)


def test_unchanged_rebuild_runs_no_example(repo):
    root, _ = repo
    build = make(root)
    assert build.returncode == 0, build.log[-5000:]
    assert executed(build) == 0
    assert f"after excluding {len(EXAMPLES)} files that had previously been run" in build.log
    assert "no targets are out of date" in build.log
    assert "Executing notebook" not in build.log, "an unchanged concept page was executed again"


def test_example_killed_between_its_run_and_its_page_runs_again(site, repo):
    # The state a kill leaves when it lands after sphinx-gallery wrote an
    # example's .md5 but before it wrote the example's page.
    root, _ = repo
    gallery = root.joinpath(*GALLERY)
    example = EXAMPLES[1]
    page_source = gallery / example.parent.name / (example.stem + ".rst")
    md5 = page_source.with_suffix(".py.md5")
    # The interrupted run started a second ago; it wrote this example's .md5
    # just now; the other examples' .md5 files are from earlier runs.
    now = time.time_ns()
    for other in gallery.rglob("*.py.md5"):
        os.utime(other, ns=(now - 2_000_000_000,) * 2)
    os.utime(md5, ns=(now, now))
    mark = gallery / ".gallery-run-in-progress"
    mark.touch()
    os.utime(mark, ns=(now - 1_000_000_000,) * 2)
    page_source.write_text(page_source.read_text().split(".. rst-class:: sphx-glr-script-out")[0])

    build = make(root)
    assert build.returncode == 0, build.log[-5000:]
    assert executed(build) == 1
    assert_complete_site(site, root)


def test_editing_one_example_reruns_only_that_one(repo):
    root, _ = repo
    edited = root / "examples" / EXAMPLES[2].parent.name / EXAMPLES[2].name
    edited.write_text(edited.read_text() + "\n# An edit.\n")
    build = make(root)
    assert build.returncode == 0, build.log[-5000:]
    assert executed(build) == 1
    assert f"after excluding {len(EXAMPLES) - 1} files" in build.log


def test_a_tutorial_made_from_the_template_builds(repo):
    root, _ = repo
    new = root / "examples" / "basics" / "plot_99_from_the_template.py"
    new.write_text((root / "docs" / "tutorial_template.py").read_text())
    try:
        build = make(root)
        assert build.returncode == 0, build.log[-5000:]
        assert executed(build) == 1
        page = soup(tutorial_page(root / "build" / "html", new))
        assert "max |v^T J - cos x|" in "\n".join(page_outputs(page))
    finally:
        new.unlink()


def test_make_clean_removes_everything_generated(repo):
    root, files_before = repo
    assert make(root, "clean").returncode == 0
    edited = f"examples/{EXAMPLES[2].parent.name}/{EXAMPLES[2].name}"
    assert files_of(root) == files_before, "left behind: " + str(sorted(files_of(root) - files_before))
    assert edited in files_before


def test_interrupted_build_then_make_html_gives_the_complete_site(site, tmp_path):
    root = copy_repo(tmp_path / "repo")
    kill_when_first_example_has_run(root, signal.SIGINT)
    build = make(root)
    assert build.returncode == 0, build.log[-5000:]
    assert_complete_site(site, root)
