"""Point "Edit this page" and "View this page" of gallery pages at their sources.

furo builds both links from ``html_theme_options`` (``source_repository``,
``source_branch``, ``source_directory``) and the page's name, so on the pages
sphinx-gallery generates they lead to ``docs/auto_examples/...rst``: files
the build writes and git ignores, which do not exist in the repository.

Here each generated page gets the file it is made from instead:

- a tutorial, ``auto_examples/<section>/<name>``: ``examples/<section>/<name>.py``;
- a gallery index, ``auto_examples/<section>/index``: that section's
  ``GALLERY_HEADER.rst`` (``examples/GALLERY_HEADER.rst`` for the top index).

:func:`example_source` is also used by ``gallery_cards``.
"""

import posixpath
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

# sphinx-gallery's names for a gallery's header file, in the order it looks for them.
HEADERS = ("GALLERY_HEADER.rst", "README.rst", "README.txt")

# How each host spells an edit link and a view link (as furo does).
HOSTS = {
    "https://github.com/": ("{repo}/edit/{branch}/{path}", "{repo}/blob/{branch}/{path}?plain=true"),
    "https://gitlab.com/": ("{repo}/-/edit/{branch}/{path}", "{repo}/blob/{branch}/{path}"),
    "https://bitbucket.org/": ("{repo}/src/{branch}/{path}?mode=edit&at={branch}", "{repo}/src/{branch}/{path}"),
}


def _as_list(value):
    return [value] if isinstance(value, str) else list(value)


def example_source(app, docname):
    """The file a generated gallery page is made from, as a path relative to
    the source directory (``../examples/basics/plot_01_x.py``), or None when
    DOCNAME is not a gallery page."""
    conf = app.config.sphinx_gallery_conf
    pairs = zip(_as_list(conf.get("examples_dirs", "../examples")), _as_list(conf.get("gallery_dirs", "auto_examples")))
    extensions = conf.get("example_extensions", {".py"})
    for examples_dir, gallery_dir in pairs:
        gallery = posixpath.normpath(gallery_dir)
        if not docname.startswith(gallery + "/"):
            continue
        folder, _, stem = docname[len(gallery) + 1 :].rpartition("/")
        source_dir = posixpath.normpath(posixpath.join(examples_dir, folder))
        names = HEADERS if stem == "index" else [stem + suffix for suffix in sorted(extensions)]
        for name in names:
            if Path(app.srcdir, source_dir, name).is_file():
                return posixpath.join(source_dir, name)
    return None


def point_links_at_sources(app, pagename, templatename, context, doctree):
    source = example_source(app, pagename)
    repo = (context.get("theme_source_repository") or "").rstrip("/")
    if source is None or not repo:
        return
    path = posixpath.normpath(posixpath.join(context.get("theme_source_directory") or "", source))
    host = next((h for h in HOSTS if repo.startswith(h)), None)
    if path.startswith("../") or host is None:
        logger.warning(f"no edit link for {pagename}: {source} is outside the repository, or {repo} is not a known host")
        return
    branch = context.get("theme_source_branch") or "main"
    edit, view = (
        # furo passes these through str.format(filename=...): keep braces literal.
        link.format(repo=repo, branch=branch, path=path).replace("{", "{{").replace("}", "}}")
        for link in HOSTS[host]
    )
    context["theme_source_edit_link"] = edit
    context["theme_source_view_link"] = view


def setup(app):
    app.connect("html-page-context", point_links_at_sources)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
