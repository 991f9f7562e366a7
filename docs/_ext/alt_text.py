r"""Figure alt texts in words and symbols, not TeX.

sphinx-gallery gives each matplotlib figure the titles of its plots as alt
text (``sphinx_gallery/scrapers.py``, ``_matplotlib_fig_titles``, 0.22.1,
added by https://github.com/sphinx-gallery/sphinx-gallery/pull/663), and the
titles use matplotlib's maths (``$f(x) = \sqrt{x}$``): a screen reader would
read the dollars and backslashes aloud. When a page is resolved, each
``$...$`` in an alt text is written as the characters it stands for
(``f(x) = √x``) by docs/_ext/tex_text.py. TeX that tex_text cannot write is a
warning at the page (``-W`` makes it an error), so no raw TeX reaches a
reader.

No upstream issue yet (the text for one is in docs/contributing.md,
"Upstream issues to file"). This module can go when sphinx-gallery writes
the titles' maths as text.
"""

from docutils import nodes
from sphinx.util import logging
from tex_text import UnknownTeX, text_with_maths

logger = logging.getLogger(__name__)


def fix_alt_texts(app, doctree, docname):
    # Images, and sphinx-gallery's own figure node, which has an alt text too.
    for image in doctree.findall(
        lambda node: isinstance(node, nodes.Element) and "$" in str(node.get("alt", ""))
    ):
        alt = image["alt"]
        try:
            image["alt"] = text_with_maths(alt)
        except UnknownTeX as error:
            logger.warning(
                f"alt text: {error} is not turned into text in {alt!r}: "
                "add it to docs/_ext/tex_text.py",
                location=docname,
            )


def setup(app):
    app.connect("doctree-resolved", fix_alt_texts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
