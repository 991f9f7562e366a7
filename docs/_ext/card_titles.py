"""Long dotted names in gallery card titles wrap at their dots.

A card can be as narrow as 160 CSS px (the narrowest column of
sphinx-gallery's grid), and a title such as "Every argument of
torch.autograd.functional.vjp, ..." holds a name longer than one line of it.
``docs/_static/cookbook.css`` lets a word that long break anywhere
(``overflow-wrap: anywhere``), which would cut ``functional`` in two; a
``<wbr>`` after each dot of such a name lets it break between its parts
first. sphinx-gallery writes the title as raw HTML
(``sphinx_gallery/backreferences.py``, ``THUMBNAIL_TEMPLATE``, 0.22.1), so the
break opportunities are added to that HTML when a page is read. Not a
workaround: sphinx-gallery has nothing to change here.
"""

import re

from docutils import nodes

TITLE = re.compile(r'(<div class="sphx-glr-thumbnail-title">)(.*?)(</div>)', re.S)
DOTTED_NAME = re.compile(r"\b\w+(?:\.\w+)+\b")
# A dotted name this long does not fit on one line of a card; a shorter one
# moves to the next line whole, as a word does.
LONG = 20


def break_at_dots(title_html: str) -> str:
    """TITLE_HTML with <wbr> after each dot of each dotted name of LONG
    characters or more."""

    def wrap(match):
        name = match[0]
        return name.replace(".", ".<wbr>") if len(name) >= LONG else name

    return DOTTED_NAME.sub(wrap, title_html)


def wrap_titles(app, doctree):
    for raw in list(doctree.findall(nodes.raw)):
        text = raw.astext()
        if "sphx-glr-thumbnail-title" not in text:
            continue
        new = TITLE.sub(lambda m: m[1] + break_at_dots(m[2]) + m[3], text)
        if new != text:
            raw.children = [nodes.Text(new)]
            raw.rawsource = new


def setup(app):
    app.connect("doctree-read", wrap_titles)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
