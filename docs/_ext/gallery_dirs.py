"""Where sphinx-gallery's examples are, and where it writes what it makes of them.

conf.py's ``sphinx_gallery_conf`` pairs each folder of examples
(``examples_dirs``) with the folder of generated pages (``gallery_dirs``),
each a string or a list. sphinx-gallery pairs them the same way, in
``sphinx_gallery/gen_gallery.py``, ``_prepare_sphx_glr_dirs`` (0.22.1), a
private function that also creates folders; the helpers that need the pairs
(gallery_guard, notebook_markdown, source_links, card_tooltips,
torch_releases) take them from here.
"""

import os
import posixpath
from pathlib import Path

# sphinx-gallery's names for a gallery's header file, in the order it looks for them.
HEADERS = ("GALLERY_HEADER.rst", "README.rst", "README.txt")


def gallery_pairs(app) -> list[tuple[Path, Path]]:
    """(folder of examples, folder of generated pages), absolute, for each gallery.
    A folder of examples is spelled as sphinx-gallery spells it (normalised,
    not resolved), so the paths it reports can be compared with it."""
    conf = app.config.sphinx_gallery_conf
    examples, galleries = conf["examples_dirs"], conf["gallery_dirs"]
    examples = [examples] if isinstance(examples, str) else examples
    galleries = [galleries] if isinstance(galleries, str) else galleries
    return [
        (Path(os.path.normpath(Path(app.srcdir, e))), Path(app.srcdir, g))
        for e, g in zip(examples, galleries)
    ]


def example_source(app, docname: str) -> str | None:
    """The file a generated gallery page is made from, relative to the source
    directory (``../examples/basics/plot_01_x.py``; a gallery index's header
    file), or None when DOCNAME is not a gallery page."""
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
