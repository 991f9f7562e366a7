"""Re-run the examples whose pages a build may have left wrong: half-written
by an interrupted build, or showing the traceback of a failed run.

sphinx-gallery decides whether to run an example again by the example's
``.md5`` file alone, and it writes that file right after the example has run
(``sphinx_gallery/gen_rst.py``, ``execute_script``, 0.22.1), *before*
``generate_file_rst`` writes the example's page, thumbnail, notebook and zip. A build
killed in between (Ctrl-C, a killed process) would leave a page without its
outputs that no later build repairs.

This extension marks each gallery run as in progress and clears the mark when
the run ends. A build that finds the mark of a run that never ended deletes
every ``.md5`` written since that run started, so those examples run again.

A failed example keeps the ``.md5`` of its last good run, while its page now
shows the traceback. A writer who fixes the example by undoing the change
would get that page back unchanged from a build that passes. So the ``.md5``
of every example that failed is deleted, and the next build runs it again.

A failed example fails the build (exit status 1), with or without ``-W``.
sphinx-gallery reports the failures as a warning (conf.py sets
``only_warn_on_example_error``) rather than by raising: when a build raises,
Sphinx throws away its environment, and the build after the fix would read
every page again instead of the few that changed.

Upstream: https://github.com/sphinx-gallery/sphinx-gallery/issues/105
(closed) asked that failed examples run again; 0.22.1 writes no ``.md5`` for
a failed run, but the one of the last good run stays. No issue covers either
case yet (the text for one
is in docs/contributing.md, "Upstream issues to file"). This module can go
when sphinx-gallery writes the ``.md5`` last and deletes it when a run fails.
"""

from pathlib import Path

from source_links import gallery_pairs

MARK = ".gallery-run-in-progress"


def begin_gallery_run(app):
    for _, gallery in gallery_pairs(app):
        mark = gallery / MARK
        if mark.exists():
            started = mark.stat().st_mtime_ns
            for md5 in gallery.rglob("*.py.md5"):
                if md5.stat().st_mtime_ns >= started:
                    md5.unlink()
        gallery.mkdir(parents=True, exist_ok=True)
        mark.touch()


def end_gallery_run(app):
    for failed in app.config.sphinx_gallery_conf.get("failing_examples", {}):
        for examples, gallery in gallery_pairs(app):
            if Path(failed).is_relative_to(examples):
                Path(gallery, Path(failed).relative_to(examples)).with_suffix(
                    ".py.md5"
                ).unlink(missing_ok=True)
    for _, gallery in gallery_pairs(app):
        (gallery / MARK).unlink(missing_ok=True)


def fail_the_build(app, exception):
    if exception is None and app.config.sphinx_gallery_conf.get("failing_examples"):
        app.statuscode = 1


def setup(app):
    # Around sphinx-gallery's generate_gallery_rst, which runs the examples:
    # gen_gallery.setup() connects it to builder-inited at the default priority, 500.
    app.connect("builder-inited", begin_gallery_run, priority=400)
    app.connect("builder-inited", end_gallery_run, priority=600)
    app.connect("build-finished", fail_the_build)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
