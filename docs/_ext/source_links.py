"""The file each gallery page is made from, and its "Edit/View this page" links.

furo builds both links from ``html_theme_options`` and the page's name, so on
the pages sphinx-gallery generates they lead to ``docs/auto_examples/...rst``,
which git ignores. Here a tutorial's links lead to its ``examples/...py``, a
gallery index's to its ``GALLERY_HEADER.rst``, through the two values furo's
template takes as given (``theme_source_edit_link``, ``theme_source_view_link``,
sphinx-basic-ng's ``components/edit-this-page.html``). Upstream:
https://github.com/sphinx-gallery/sphinx-gallery/issues/154 (closed by removing
the button, PR 156) and https://github.com/readthedocs/readthedocs.org/issues/5131;
it can go when sphinx-gallery gives each page its source's path and the theme
uses it.

:func:`gallery_pairs` and :func:`example_source` serve the other helpers:
sphinx-gallery's own pairing (``gen_gallery._prepare_sphx_glr_dirs``, 0.22.1)
is private and creates folders.
"""

import os
import posixpath
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

# sphinx-gallery's names for a gallery's header file, in the order it looks for them.
HEADERS = ("GALLERY_HEADER.rst", "README.rst", "README.txt")
GITHUB = "https://github.com/"  # where REPOSITORY is; links spelled as furo spells them


def gallery_pairs(app) -> list[tuple[Path, Path]]:
    """(folder of examples, folder of generated pages), absolute, per gallery;
    the first normalised, not resolved, as sphinx-gallery reports paths."""
    conf = app.config.sphinx_gallery_conf
    examples, galleries = (
        [dirs] if isinstance(dirs, str) else dirs
        for dirs in (conf["examples_dirs"], conf["gallery_dirs"])
    )
    return [
        (Path(os.path.normpath(Path(app.srcdir, e))), Path(app.srcdir, g))
        for e, g in zip(examples, galleries)
    ]


def example_source(app, docname: str) -> str | None:
    """The file gallery page DOCNAME is made from, relative to the source
    folder (``../examples/basics/plot_01_x.py``, or an index's header), or
    None for another page."""
    srcdir = Path(app.srcdir)
    extensions = sorted(app.config.sphinx_gallery_conf["example_extensions"])
    for examples, gallery in gallery_pairs(app):
        gallery_name = gallery.relative_to(srcdir).as_posix()
        if not docname.startswith(gallery_name + "/"):
            continue
        folder, _, stem = docname[len(gallery_name) + 1 :].rpartition("/")
        source_dir = posixpath.join(
            os.path.relpath(examples, srcdir).replace(os.sep, "/"), folder
        )
        names = HEADERS if stem == "index" else [stem + suffix for suffix in extensions]
        for name in names:
            if Path(srcdir, source_dir, name).is_file():
                return posixpath.normpath(posixpath.join(source_dir, name))
    return None


def point_links_at_sources(app, pagename, templatename, context, doctree):
    source = example_source(app, pagename)
    repo = (context.get("theme_source_repository") or "").rstrip("/")
    if source is None or not repo:
        return
    path = posixpath.normpath(
        posixpath.join(context.get("theme_source_directory") or "", source)
    )
    if path.startswith("../") or not repo.startswith(GITHUB):
        logger.warning(
            f"no edit link for {pagename}: {source} is outside the repository, "
            f"or {repo} is not on GitHub"
        )
        return
    branch = context.get("theme_source_branch") or "main"
    # furo passes these through str.format(filename=...): keep braces literal.
    edit, view = (
        link.replace("{", "{{").replace("}", "}}")
        for link in (
            f"{repo}/edit/{branch}/{path}",
            f"{repo}/blob/{branch}/{path}?plain=true",
        )
    )
    context["theme_source_edit_link"] = edit
    context["theme_source_view_link"] = view


def setup(app):
    app.connect("html-page-context", point_links_at_sources)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
