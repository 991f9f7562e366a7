"""Re-run the examples whose pages a build may have left wrong; fail the build
when an example fails.

sphinx-gallery writes an example's ``.md5`` (which decides whether it runs
again) right after running it (``gen_rst.execute_script``, 0.22.1), before
its page, thumbnail, notebook and zip are written, and keeps the last good
run's ``.md5`` when a run fails. So an interrupted build, or undoing a
change that failed, would leave a page that no later build repairs. Here a
gallery run is marked as in progress: a build that finds the mark of a run
that never ended deletes every ``.md5`` written since; and a failed
example's ``.md5`` is deleted. Failures are warnings (conf.py's
``only_warn_on_example_error``) made exit status 1 here: a build that raises
makes Sphinx discard its environment and read every page again next time.

Upstream: https://github.com/sphinx-gallery/sphinx-gallery/issues/105
(closed) asked that failed examples run again. No issue covers either case
yet (text in docs/contributing.md, "Upstream issues to file"); this module
can go when sphinx-gallery writes the ``.md5`` last and deletes it when a
run fails.
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
                page = Path(gallery, Path(failed).relative_to(examples))
                page.with_suffix(".py.md5").unlink(missing_ok=True)
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
