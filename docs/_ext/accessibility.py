"""Fixes for what axe-core reports as serious or critical on the built pages.

- Sphinx writes a toctree caption as ``<p class="caption" role="heading">``
  with no ``aria-level``, which the ARIA heading role requires: the sidebar
  captions get ``aria-level="2"`` here
  (https://github.com/sphinx-doc/sphinx/blob/v9.0.4/sphinx/writers/html5.py#L500-L510,
  https://github.com/sphinx-doc/sphinx/issues/14030). The translator can go
  when Sphinx writes the level (https://github.com/sphinx-doc/sphinx/pull/14437).
- Code, output, maths and table boxes that scroll must be reachable by
  keyboard: ``docs/_static/cookbook.js`` makes them focusable.
- sphinx-gallery hides the text of its card links with ``display: none``, so
  the links have no accessible name: ``docs/_static/cookbook.css`` hides it
  visually only (``.sphx-glr-thumbcontainer p a span``,
  https://github.com/sphinx-gallery/sphinx-gallery/blob/v0.22.1/sphinx_gallery/_static/sg_gallery.css#L143-L147).
"""

from sphinx import addnodes
from sphinx.writers.html5 import HTML5Translator

HEADING = 'role="heading"'


class Translator(HTML5Translator):
    def visit_title(self, node):
        super().visit_title(node)
        parent = node.parent
        if isinstance(parent, addnodes.compact_paragraph) and parent.get("toctree"):
            for index in range(len(self.body) - 1, -1, -1):
                if HEADING in self.body[index]:
                    level = f'{HEADING} aria-level="2"'
                    self.body[index] = self.body[index].replace(HEADING, level)
                    break


def setup(app):
    app.set_translator("html", Translator, override=True)
    app.add_js_file("cookbook.js")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
