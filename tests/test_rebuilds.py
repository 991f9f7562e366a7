"""Rebuilding: an unchanged rebuild runs nothing; editing one example runs
that one only; a build interrupted between an example's run and its page,
then `make html` again, gives the complete site; `make clean` removes
everything generated.

The scenarios run one after another, on one pytest-xdist worker, in the tree
the session's site was built in (conftest.built_tree; the other tests read a
copy), after the broken build of test_failures.py: each build reads only what
changed, and only the examples a scenario changes run again."""

import errno
import os
import signal
import threading
import time

import pytest
import torch_releases  # noqa: E402 (docs/_ext, on the path from conftest)
from conftest import (
    CONF,
    EXAMPLES,
    copy_repo,
    interrupt,
    make,
    quickest_examples,
    shown_lines,
    soup,
    start_make,
    tutorial_page,
)


class PageGate:
    """Holds a build at the moment an interruption is most harmful: right
    after sphinx-gallery has run EXAMPLE and written its .md5, before it
    writes the example's page, notebook and thumbnail.

    sphinx-gallery writes a page to <name>.rst.new in the gallery folder and
    then moves it into place (gen_rst.save_rst_example). A named pipe at that
    path makes the build's open() wait until this test opens the other end,
    and then wait again when it reads the file back: the page is never moved
    into place. Nothing of sphinx-gallery is patched; only the file name is
    assumed, and if sphinx-gallery stops writing through it the build runs
    past the gate and wait() fails, saying so."""

    def __init__(self, root, example):
        gallery = (
            root
            / "docs"
            / CONF["sphinx_gallery_conf"]["gallery_dirs"]
            / example.parent.name
        )
        self.path = gallery / (example.stem + ".rst.new")
        self.path.unlink(missing_ok=True)
        os.mkfifo(self.path)
        self.fd = None

    def wait(self, process, seconds=600):
        """Return once PROCESS (a build started by start_make) has reached the gate."""
        self._close()  # the end opened for an earlier build
        reached = threading.Event()

        def open_the_other_end():
            self.fd = os.open(
                self.path, os.O_RDONLY
            )  # returns when the build opens the page to write it
            reached.set()

        threading.Thread(target=open_the_other_end, daemon=True).start()
        deadline = time.monotonic() + seconds
        while not reached.wait(0.05):
            if process.poll() is None and time.monotonic() < deadline:
                continue
            self._release_the_reader()
            output = (
                process.stdout.read()[-3000:]
                if process.poll() is not None
                else "(still running)"
            )
            pytest.fail(
                f"the build did not reach {self.path.name} within {seconds} s, or ended without writing the page"
                f" there (does sphinx-gallery still write pages through <name>.rst.new?):\n{output}"
            )

    def _release_the_reader(self):
        """Open the pipe for writing ourselves, so the waiting reader thread returns."""
        for _ in range(200):
            try:
                os.close(os.open(self.path, os.O_WRONLY | os.O_NONBLOCK))
                break
            except OSError as error:  # ENXIO: the reader has not opened its end yet
                if error.errno != errno.ENXIO:
                    raise
                time.sleep(0.01)
        time.sleep(0.05)
        self._close()

    def _close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def remove(self):
        self._close()
        self.path.unlink()


AN_EDIT = '\nprint("An edit: this line is new.")\n'


def executed(log):
    marker = "successfully executed "
    assert marker in log, log[-3000:]
    return int(log.split(marker, 1)[1].split()[0])


def files_of(root):
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_unchanged_rebuild_runs_nothing(site):
    log = site.rebuild_log
    assert executed(log) == 0
    assert f"after excluding {len(EXAMPLES)} files that had previously been run" in log
    assert "no targets are out of date" in log
    assert "Executing notebook" not in log, (
        "an unchanged concept page was executed again"
    )
    assert "maths: KaTeX typeset" not in log, "node was started with no new maths"
    assert "maths: KaTeX typeset" in site.log


# All tests of this module run on one xdist worker, in order, in the one built tree.
pytestmark = pytest.mark.xdist_group("built-tree")


@pytest.fixture(scope="module")
def tree(built_tree):
    return built_tree


def pages_now(root):
    return {
        example: shown_lines(root / "build" / "html", example) for example in EXAMPLES
    }


def edit(root, example, text=AN_EDIT):
    path = root / "examples" / example.parent.name / example.name
    path.write_text(path.read_text() + text)


def test_writer_fast_loop_noplot_then_one_example(tree):
    """`make html-noplot` builds an edited page without running anything;
    `make html EXAMPLE=...` then runs just that example. Neither rewrites the
    pages it did not change, and an EXAMPLE that matches nothing is an error."""
    root = tree
    before = pages_now(root)
    # The two quickest: the edited one runs again.
    example, other = quickest_examples(root / "build" / "html", 2)
    untouched = tutorial_page(root / "build" / "html", other).stat().st_mtime_ns
    edited = root / "examples" / example.parent.name / example.name
    edited.write_text(
        edited.read_text().replace('\n"""', '\n\nA sentence added by a writer.\n"""', 1)
        + AN_EDIT
    )
    guide = root / "docs" / "contributing.md"
    guide.write_text(guide.read_text() + "\nA paragraph added by a writer.\n")

    noplot = make(root, "html-noplot")
    assert noplot.returncode == 0, noplot.log[-5000:]
    assert (
        "successfully executed" not in noplot.log
        and "Executing notebook" not in noplot.log
    )
    html = root / "build" / "html"
    assert "A sentence added by a writer." in tutorial_page(html, example).read_text()
    assert "A paragraph added by a writer." in (html / "contributing.html").read_text()
    assert shown_lines(html, other) == before[other], (
        "html-noplot dropped an unchanged page's outputs"
    )

    one = make(root, "html", f"EXAMPLE={example.parent.name}/{example.stem}")
    assert one.returncode == 0, one.log[-5000:]
    assert executed(one.log) == 1
    assert shown_lines(html, example) == before[example] + [
        "An edit: this line is new."
    ]
    assert shown_lines(html, other) == before[other], (
        "an example that did not run lost its page"
    )
    assert tutorial_page(html, other).stat().st_mtime_ns == untouched, (
        "a page nothing changed was written again"
    )
    # make compat's record ran the example before the edit: its page now names only this build's torch.
    checked = (
        soup(tutorial_page(html, example), "div")
        .select_one("p.torch-releases")
        .get_text()
    )
    assert (
        checked
        == f"Checked with torch {torch_releases.build_release()} on {torch_releases.build_platform()}."
    ), checked

    nothing = make(root, "html", "EXAMPLE=basics/plot_99")
    assert nothing.returncode != 0
    assert "EXAMPLE=basics/plot_99 matches no example in examples/" in nothing.log, (
        nothing.log[-3000:]
    )


def test_a_stopped_build_and_edits_then_make_html_runs_exactly_what_changed_then_make_clean(
    tree,
):
    """Stopped with Ctrl-C (SIGINT) right after the edited example has run and
    written its .md5 (PageGate), started again, and stopped again there with
    kill (SIGKILL). The build can only reach the gate again by running the
    example again, so reaching it shows that the first stop was repaired.
    Then, with another example edited and a new one made from the template,
    `make html` runs those three and nothing else, and gives the complete
    site. `make clean` then leaves exactly the sources."""
    root = tree
    sources = files_of(copy_repo(root.parent / "sources", source=root)) | {
        "examples/basics/plot_99_from_the_template.py"
    }
    before = pages_now(root)
    # The two quickest: the stopped one runs three times, the other edited one once.
    example, edited = quickest_examples(root / "build" / "html", 2)
    edit(root, example)
    md5 = (
        root
        / "docs"
        / CONF["sphinx_gallery_conf"]["gallery_dirs"]
        / example.parent.name
        / (example.name + ".md5")
    )
    old_md5 = md5.read_text()
    gate = PageGate(root, example)

    for sig in (signal.SIGINT, signal.SIGKILL):
        process = start_make(root)
        gate.wait(process)
        assert md5.read_text() != old_md5, "the stop came before the new .md5"
        interrupt(process, sig)
        assert process.returncode != 0, signal.Signals(sig).name
    gate.remove()

    edit(root, edited)
    new = root / "examples" / "basics" / "plot_99_from_the_template.py"
    new.write_text((root / "docs" / "tutorial_template.py").read_text())
    build = make(root)
    assert build.returncode == 0, build.log[-5000:]
    assert executed(build.log) == 3, (
        "the example stopped half-way, the edited one and the new one: nothing else"
    )
    assert f"after excluding {len(EXAMPLES) - 2} files" in build.log
    after = pages_now(root)
    for changed in (example, edited):
        assert after[changed] == before[changed] + ["An edit: this line is new."], (
            changed.name
        )
    assert {e: p for e, p in after.items() if e not in (example, edited)} == {
        e: p for e, p in before.items() if e not in (example, edited)
    }
    html = root / "build" / "html"
    assert shown_lines(html, new), "the page made from the template shows no output"
    assert "Traceback" not in tutorial_page(html, new).read_text()

    # make clean leaves exactly the sources (the edits are sources too).
    assert make(root, "clean").returncode == 0
    assert files_of(root) == sources, "left behind: " + str(
        sorted(files_of(root) - sources)
    )
