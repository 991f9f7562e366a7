"""Typeset maths at build time as MathML.

Sphinx's default HTML maths loads MathJax (and its fonts) from a CDN. This
extension instead converts every ``:math:`` role and ``math`` directive to
MathML with latex2mathml while the page is written, so browsers draw the maths
natively: no script, no font download, no network, and it shows with
JavaScript off. conf.py selects it with ``html_math_renderer = "mathml"``.

TeX that latex2mathml does not understand would otherwise reach the page as
raw text; it is reported as a warning at the page and line instead, which
``-W`` turns into a failed build.
"""

import re

from docutils import nodes
from latex2mathml.converter import convert
from sphinx.util import logging
from sphinx.util.math import get_node_equation_number

logger = logging.getLogger(__name__)

# A backslash left in the text of a MathML element is a TeX command that was
# not converted; a bare ``&`` is an alignment outside a supported environment.
_UNCONVERTED = re.compile(r">([^<]*\\[^<]*|\s*&\s*)<")


def latex_to_mathml(latex, display):
    """Return MathML for ``latex``; raise ValueError on TeX it cannot typeset."""
    mathml = convert(latex.strip(), display="block" if display else "inline")
    leftover = _UNCONVERTED.search(mathml)
    if leftover:
        raise ValueError(
            f'cannot typeset "{leftover.group(1).strip()}" in "{latex.strip()}"'
            " (use a command or environment latex2mathml supports, such as"
            " split, align* or array for alignment)"
        )
    return mathml


def _render(translator, node, latex, display):
    try:
        return latex_to_mathml(latex, display)
    except ValueError as error:
        logger.warning("maths: %s", error, location=node, type="math")
        return f"<code>{translator.encode(latex)}</code>"


def visit_inline(translator, node):
    translator.body.append(
        '<span class="math notranslate">'
        + _render(translator, node, node.astext(), display=False)
        + "</span>"
    )
    raise nodes.SkipNode


def visit_block(translator, node):
    translator.body.append(
        translator.starttag(node, "div", CLASS="math notranslate nohighlight")
    )
    if node["number"]:
        number = get_node_equation_number(translator, node)
        translator.body.append(f'<span class="eqno">({number})')
        translator.add_permalink_ref(node, "Link to this equation")
        translator.body.append("</span>")
    # A math directive may hold several equations separated by blank lines.
    for part in node.astext().split("\n\n"):
        if part.strip():
            translator.body.append(_render(translator, node, part, display=True))
    translator.body.append("</div>\n")
    raise nodes.SkipNode


def setup(app):
    app.add_html_math_renderer(
        "mathml", inline_renderers=(visit_inline, None), block_renderers=(visit_block, None)
    )
    return {"parallel_read_safe": True, "parallel_write_safe": True}
