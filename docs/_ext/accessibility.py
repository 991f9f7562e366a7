"""Fixes for what axe-core reports as serious or critical on the built pages.

- Sphinx writes a toctree caption as ``<p class="caption" role="heading">``
  with no ``aria-level``, which the ARIA heading role requires: the sidebar
  captions get ``aria-level="2"`` here.
- Code, output, maths and table boxes that scroll must be reachable by
  keyboard: ``docs/_static/cookbook.js`` makes them focusable.
- sphinx-gallery hides the text of its card links with ``display: none``, so
  the links have no accessible name: ``docs/_static/cookbook.css`` hides it
  visually only.
"""

from sphinx import addnodes
from sphinx.writers.html5 import HTML5Translator


class Translator(HTML5Translator):
    def visit_title(self, node):
        super().visit_title(node)
        if isinstance(node.parent, addnodes.compact_paragraph) and node.parent.get("toctree"):
            for index in range(len(self.body) - 1, -1, -1):
                if 'role="heading"' in self.body[index]:
                    self.body[index] = self.body[index].replace('role="heading"', 'role="heading" aria-level="2"')
                    break


def setup(app):
    app.set_translator("html", Translator, override=True)
    app.add_js_file("cookbook.js")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
