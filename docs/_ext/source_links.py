"""Point "Edit this page" and "View this page" of gallery pages at their sources.

furo builds both links from ``html_theme_options`` (``source_repository``,
``source_branch``, ``source_directory``) and the page's name, so on the pages
sphinx-gallery generates they lead to ``docs/auto_examples/...rst``: files
the build writes and git ignores, which do not exist in the repository.

Here each generated page gets the file it is made from instead:

- a tutorial, ``auto_examples/<section>/<name>``: ``examples/<section>/<name>.py``;
- a gallery index, ``auto_examples/<section>/index``: that section's
  ``GALLERY_HEADER.rst`` (``examples/GALLERY_HEADER.rst`` for the top index).

It sets the two links furo's template takes as they are when given
(``theme_source_edit_link``, ``theme_source_view_link``, in sphinx-basic-ng's
``components/edit-this-page.html`` and ``view-this-page.html``). Upstream:
sphinx-gallery's https://github.com/sphinx-gallery/sphinx-gallery/issues/154
(closed by removing the Read the Docs theme's button, PR 156) and
https://github.com/readthedocs/readthedocs.org/issues/5131; no theme or
sphinx-gallery release maps a generated page to its example. It can go if
sphinx-gallery comes to give each page its source's path (for example in the
page's metadata) and the theme uses it.
"""

import posixpath

from gallery_dirs import example_source
from sphinx.util import logging

logger = logging.getLogger(__name__)

# How each host spells an edit link and a view link (as furo does).
HOSTS = {
    "https://github.com/": (
        "{repo}/edit/{branch}/{path}",
        "{repo}/blob/{branch}/{path}?plain=true",
    ),
    "https://gitlab.com/": (
        "{repo}/-/edit/{branch}/{path}",
        "{repo}/blob/{branch}/{path}",
    ),
    "https://bitbucket.org/": (
        "{repo}/src/{branch}/{path}?mode=edit&at={branch}",
        "{repo}/src/{branch}/{path}",
    ),
}


def point_links_at_sources(app, pagename, templatename, context, doctree):
    source = example_source(app, pagename)
    repo = (context.get("theme_source_repository") or "").rstrip("/")
    if source is None or not repo:
        return
    path = posixpath.normpath(
        posixpath.join(context.get("theme_source_directory") or "", source)
    )
    host = next((h for h in HOSTS if repo.startswith(h)), None)
    if path.startswith("../") or host is None:
        logger.warning(
            f"no edit link for {pagename}: {source} is outside the repository, "
            f"or {repo} is not a known host"
        )
        return
    branch = context.get("theme_source_branch") or "main"
    edit, view = (
        # furo passes these through str.format(filename=...): keep braces literal.
        link.format(repo=repo, branch=branch, path=path)
        .replace("{", "{{")
        .replace("}", "}}")
        for link in HOSTS[host]
    )
    context["theme_source_edit_link"] = edit
    context["theme_source_view_link"] = view


def setup(app):
    app.connect("html-page-context", point_links_at_sources)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
