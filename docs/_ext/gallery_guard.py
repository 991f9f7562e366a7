"""Re-run the examples that an interrupted build may have left half-written.

sphinx-gallery decides whether to run an example again by the example's
``.md5`` file alone, and it writes that file right after the example has run,
*before* it writes the example's page, notebook, zip and thumbnail. A build
killed in between (Ctrl-C, a killed process) would leave a page without its
outputs that no later build repairs.

This extension marks each gallery run as in progress and clears the mark when
the run ends. A build that finds the mark of a run that never ended deletes
every ``.md5`` written since that run started, so those examples run again.
"""

from pathlib import Path

MARK = ".gallery-run-in-progress"


def _gallery_dirs(app):
    dirs = app.config.sphinx_gallery_conf.get("gallery_dirs", "auto_examples")
    return [Path(app.srcdir, d) for d in ([dirs] if isinstance(dirs, str) else dirs)]


def begin_gallery_run(app):
    for gallery in _gallery_dirs(app):
        mark = gallery / MARK
        if mark.exists():
            started = mark.stat().st_mtime_ns
            for md5 in gallery.rglob("*.py.md5"):
                if md5.stat().st_mtime_ns >= started:
                    md5.unlink()
        gallery.mkdir(parents=True, exist_ok=True)
        mark.touch()


def end_gallery_run(app):
    for gallery in _gallery_dirs(app):
        (gallery / MARK).unlink(missing_ok=True)


def setup(app):
    # sphinx-gallery runs the examples at builder-inited, priority 500.
    app.connect("builder-inited", begin_gallery_run, priority=400)
    app.connect("builder-inited", end_gallery_run, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
