"""Rebuilding: an unchanged rebuild runs nothing; editing one example runs
that one only; a build interrupted between an example's run and its page,
then `make html` again, gives the complete site; `make clean` removes
everything generated.

Each scenario starts from a copy of the session's built tree, so only what it
changes runs again."""

import signal
import time

import pytest

from conftest import EXAMPLES, copy_repo, interrupt, make, output_lines, page_outputs, soup, start_make, tutorial_page

# Appended to conf.py of a copy: the build stops for good at the moment an
# interruption is most harmful, right after sphinx-gallery has run an example
# and written its .md5, before it writes the example's page and notebook.
PAUSE_AFTER_MD5 = """
# Test only: pause between an example's .md5 and its page.
import sphinx_gallery.gen_rst as _gen_rst


def _pause_before_the_page(*args):
    (ROOT / "build" / "paused-after-md5").touch()
    import time

    time.sleep(3600)


_gen_rst._write_cached_cost = _pause_before_the_page
"""
AN_EDIT = '\nprint("An edit: this line is new.")\n'


def executed(log):
    marker = "successfully executed "
    assert marker in log, log[-3000:]
    return int(log.split(marker, 1)[1].split()[0])


def shown_lines(html, example):
    return output_lines("\n".join(page_outputs(soup(tutorial_page(html, example)))))


def files_of(root):
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_unchanged_rebuild_runs_nothing(site):
    log = site.rebuild_log
    assert executed(log) == 0
    assert f"after excluding {len(EXAMPLES)} files that had previously been run" in log
    assert "no targets are out of date" in log
    assert "Executing notebook" not in log, "an unchanged concept page was executed again"


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["killed", "interrupted"])
def test_build_stopped_between_an_example_and_its_page_then_make_html_gives_the_complete_site(site, built_copy, sig):
    root = built_copy
    example = EXAMPLES[1]
    edited = root / "examples" / example.parent.name / example.name
    edited.write_text(edited.read_text() + AN_EDIT)
    conf = root / "conf.py"
    original_conf = conf.read_text()
    conf.write_text(original_conf + PAUSE_AFTER_MD5)

    process = start_make(root)
    deadline = time.monotonic() + 600
    while not (root / "build" / "paused-after-md5").exists():
        assert process.poll() is None, "the build ended before the edited example ran:\n" + process.stdout.read()[-3000:]
        assert time.monotonic() < deadline, "the edited example did not run within 600 s"
        time.sleep(0.01)
    md5 = root / "docs" / "auto_examples" / example.parent.name / (example.name + ".md5")
    assert md5.read_text() != (site.root / md5.relative_to(root)).read_text(), "the stop came before the new .md5"
    interrupt(process, sig)
    assert process.returncode != 0

    conf.write_text(original_conf)
    build = make(root)
    assert build.returncode == 0, build.log[-5000:]
    assert executed(build.log) == 1, "the example stopped half-way ran again"
    html = root / "build" / "html"
    assert shown_lines(html, example) == shown_lines(site.html, example) + ["An edit: this line is new."]
    for other in EXAMPLES:
        if other != example:
            assert shown_lines(html, other) == shown_lines(site.html, other), f"{other.name}: outputs differ"


def test_editing_one_example_runs_only_it_and_a_template_tutorial_builds(site, built_copy, tmp_path):
    root = built_copy
    example = EXAMPLES[2]
    edited = root / "examples" / example.parent.name / example.name
    edited.write_text(edited.read_text() + AN_EDIT)
    new = root / "examples" / "basics" / "plot_99_from_the_template.py"
    new.write_text((root / "docs" / "tutorial_template.py").read_text())

    build = make(root)
    assert build.returncode == 0, build.log[-5000:]
    assert executed(build.log) == 2, "the edited example and the new one, nothing else"
    assert f"after excluding {len(EXAMPLES) - 1} files" in build.log
    html = root / "build" / "html"
    assert shown_lines(html, example)[-1] == "An edit: this line is new."
    assert "max |v^T J - cos x|" in "\n".join(page_outputs(soup(tutorial_page(html, new))))

    # make clean leaves exactly the sources (the edits are sources too).
    assert make(root, "clean").returncode == 0
    expected = files_of(copy_repo(tmp_path / "fresh")) | {"examples/basics/plot_99_from_the_template.py"}
    assert files_of(root) == expected, "left behind: " + str(sorted(files_of(root) - expected))



def test_writer_fast_loop_noplot_then_one_example(site, built_copy):
    """`make html-noplot` builds an edited page without running anything;
    `make html EXAMPLE=...` then runs just that example."""
    root = built_copy
    example = EXAMPLES[3]
    edited = root / "examples" / example.parent.name / example.name
    source = edited.read_text()
    edited.write_text(source.replace('"""', '"""\n\nA sentence added by a writer.\n', 1) + AN_EDIT)
    guide = root / "docs" / "contributing.md"
    guide.write_text(guide.read_text() + "\nA paragraph added by a writer.\n")

    noplot = make(root, "html-noplot")
    assert noplot.returncode == 0, noplot.log[-5000:]
    assert "successfully executed" not in noplot.log and "Executing notebook" not in noplot.log
    html = root / "build" / "html"
    assert "A sentence added by a writer." in tutorial_page(html, example).read_text()
    assert "A paragraph added by a writer." in (html / "contributing.html").read_text()
    other = EXAMPLES[0]
    assert shown_lines(html, other) == shown_lines(site.html, other), "html-noplot dropped an unchanged page's outputs"

    pattern = f"{example.parent.name}/{example.stem}"
    one = make(root, "html", 1200, f"EXAMPLE={pattern}")
    assert one.returncode == 0, one.log[-5000:]
    assert executed(one.log) == 1
    assert shown_lines(html, example)[-1] == "An edit: this line is new."
    assert shown_lines(html, other) == shown_lines(site.html, other), "an example that did not run lost its page"
