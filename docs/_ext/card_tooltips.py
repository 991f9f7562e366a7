r"""Gallery cards' hover text in plain words and symbols, under a valid attribute.

sphinx-gallery writes each card as
``<div class="sphx-glr-thumbcontainer" tooltip="...">``, the tooltip being
the first paragraph of the example's docstring with some reST markup
stripped (``sphinx_gallery/backreferences.py``, ``THUMBNAIL_TEMPLATE``, and
``sphinx_gallery/gen_rst.py``, ``_sanitize_rst``, 0.22.1). That leaves the TeX
of every ``:math:`` role in the text the reader sees on hover
(``\mathbb{R}^2 \to \mathbb{R}^3``), and ``tooltip`` is not an HTML
attribute (the validator reports it on every card).

When a page is read, each card's tooltip is made again from the example's
docstring, with the maths written by docs/_ext/tex_text.py (``ℝ² → ℝ³``) and
the other roles reduced to their text, and is moved to ``data-tooltip``
(``docs/_static/cookbook.css`` shows it on hover as sphinx-gallery's CSS
showed ``tooltip``). TeX that tex_text cannot write is a warning, so a build
with ``-W`` fails and names the example.

Upstream: https://github.com/sphinx-gallery/sphinx-gallery/issues/136 (raw
reST in the tooltip) is closed; since
https://github.com/sphinx-gallery/sphinx-gallery/pull/511 ``_sanitize_rst``
strips a role's marks and keeps its content, TeX included. The attribute has
no issue yet (the text for
one is in docs/contributing.md, "Upstream issues to file"). This module can
go when sphinx-gallery writes plain text under a ``data-`` attribute.
"""

import html
import re
from pathlib import Path

from docutils import nodes
from gallery_dirs import example_source
from sphinx import addnodes
from sphinx.util import logging
from sphinx_gallery.py_source_parser import split_code_and_text_blocks
from tex_text import UnknownTeX, tex_to_text

logger = logging.getLogger(__name__)

TOOLTIP = re.compile(r'\btooltip="[^"]*"')
ROLE = re.compile(r":(?P<role>[\w.:+-]+):`(?P<body>(?:\\`|[^`])+)`")


def rst_to_text(text):
    """Plain text for one paragraph of reST: roles give their text (maths in
    Unicode), literals and emphasis lose their marks, links keep their text."""

    def role(match):
        name, body = match["role"], match["body"]
        if name == "math":
            return tex_to_text(body.replace("\\`", "`"))
        explicit = re.fullmatch(r"(.*?)\s*<[^<>]*>", body, re.S)
        if explicit:
            return explicit[1]
        return body[1:].rsplit(".", 1)[-1] if body.startswith("~") else body.lstrip("!")

    text = " ".join(text.split())
    text = ROLE.sub(role, text)
    text = re.sub(r"``(.+?)``", r"\1", text)
    text = re.sub(r"`([^`<>]+?)\s*<[^`<>]+>`__?", r"\1", text)
    text = re.sub(r"\*\*(.+?)\*\*|\*(.+?)\*", lambda m: m[1] or m[2], text)
    return text


def example_intro(path):
    """The paragraph of an example's docstring that sphinx-gallery shows on
    its card (the first after the title, as ``gen_rst.extract_intro_and_title``
    picks it), still in reST."""
    _, blocks = split_code_and_text_blocks(str(path))
    paragraphs = [
        p
        for p in blocks[0].content.lstrip().split("\n\n")
        if p and not p.startswith(".. ")
    ]
    return paragraphs[1] if len(paragraphs) > 1 else paragraphs[0]


def _card_target(raw):
    """The docname that the card opened by the raw node RAW links to."""
    for sibling in raw.parent.children[raw.parent.index(raw) + 1 :]:
        if (
            isinstance(sibling, nodes.raw)
            and "sphx-glr-thumbnail-title" in sibling.astext()
        ):
            return None  # the card ended without a link
        for xref in sibling.findall(addnodes.pending_xref):
            if xref.get("reftype") == "doc":
                return xref["reftarget"].lstrip("/")
    return None


def rewrite_tooltips(app, doctree):
    for raw in list(doctree.findall(nodes.raw)):
        text = raw.astext()
        if (
            "html" not in raw.get("format", "").split()
            or "sphx-glr-thumbcontainer" not in text
            or not TOOLTIP.search(text)
        ):
            continue
        target = _card_target(raw)
        source = example_source(app, target) if target else None
        if source is None:
            logger.warning(
                f"gallery card for {target!r}: example source not found", location=raw
            )
            continue
        path = Path(app.srcdir, source).resolve()
        app.env.note_dependency(str(path))
        try:
            tooltip = rst_to_text(example_intro(path))
        except UnknownTeX as error:
            logger.warning(
                f"{source}: the card's tooltip cannot say {error} in plain text "
                "(docs/_ext/tex_text.py)",
                location=raw,
            )
            continue
        attribute = f'data-tooltip="{html.escape(tooltip, quote=True)}"'
        raw.children = [nodes.Text(TOOLTIP.sub(lambda _: attribute, text))]
        raw.rawsource = raw.astext()


def setup(app):
    app.connect("doctree-read", rewrite_tooltips)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
