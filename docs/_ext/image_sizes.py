"""Give every PNG image on a page its width and height.

sphinx-gallery writes its figures and card thumbnails as ``<img>`` without
``width`` and ``height``, so a browser cannot reserve their space before they
load and the text below jumps when they arrive (Lighthouse's "Image elements
do not have explicit width and height"). This extension adds both, in pixels
of the PNG file, to every ``<img>`` in a page's body that has neither. The
stylesheets scale the images down (``max-width``) and keep their proportions
(``height: auto``), so the attributes fix the shape, not the size.

A figure carries its smallest text size in px at full size (``data-text-px``,
measured by docs/_ext/figure_text.py when the example ran), and becomes a
link to its largest version (the 2x file of its ``srcset``), so a click or
tap opens it at full size: on a phone a figure is shown at half its width or
less.

An image whose file cannot be found is a warning, so a build with ``-W``
fails and names the page.
"""

import functools
import os
import re
import struct
from pathlib import Path

from sphinx.util import logging

from figure_text import sidecar  # the smallest text size of a figure, written by its scraper

logger = logging.getLogger(__name__)

# A whole tag: a quoted value may hold ">" (sphinx-gallery's alt texts do).
IMG = re.compile(r"""<img\b(?:[^>"']|"[^"]*"|'[^']*')*>""")
SRC = re.compile(r'\bsrc="([^"]+)"')
SRCSET = re.compile(r'\bsrcset="([^"]+)"')
FIGURE = re.compile(r'\bclass\s*=\s*"[^"]*\bsphx-glr-(single|multi)-img\b')


def png_size(path: Path) -> tuple[int, int]:
    with open(path, "rb") as file:
        head = file.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG file")
    return struct.unpack(">II", head[16:24])


@functools.cache
def _sources(srcdir: str) -> dict[str, Path]:
    """Image files under the source folder by file name (where a page's
    _images/ file comes from before Sphinx copies it). Read once per process:
    the examples, which make the figures, have run before any page is written."""
    found = {}
    for path in Path(srcdir).rglob("*.png"):
        found.setdefault(path.name, path)
    return found


def add_image_sizes(app, pagename, templatename, context, doctree):
    body = context.get("body")
    if not body or "<img" not in body:
        return
    page_dir = Path(app.outdir, pagename).parent

    def sized(match):
        tag = match.group(0)
        src = SRC.search(tag)
        if " width=" in tag or " height=" in tag or not src or not src.group(1).endswith(".png"):
            return tag
        path = Path(os.path.normpath(page_dir / src.group(1)))
        if not path.is_file():
            path = _sources(str(app.srcdir)).get(path.name)
        if path is None:
            logger.warning(f"image_sizes: cannot find {src.group(1)} to size it", location=pagename)
            return tag
        width, height = png_size(path)
        end = -2 if tag.endswith("/>") else -1
        extra = f' width="{width}" height="{height}"'
        source = _sources(str(app.srcdir)).get(path.name)
        if source and sidecar(source).is_file():
            extra += f' data-text-px="{sidecar(source).read_text().strip()}"'
        return linked(f"{tag[:end].rstrip()}{extra}{tag[end:]}")

    context["body"] = IMG.sub(sized, body)


def linked(tag: str) -> str:
    """A figure's <img> inside a link to its largest file; other images as they are."""
    srcset = SRCSET.search(tag)
    if not FIGURE.search(tag) or not srcset:
        return tag
    largest = srcset.group(1).split(",")[-1].split()[0]
    return f'<a class="full-size-figure" href="{largest}">{tag}</a>'


def setup(app):
    app.connect("html-page-context", add_image_sizes)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
