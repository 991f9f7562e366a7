"""Code blocks without the spans of tokens drawn like plain code.

Pygments wraps every name, bracket and newline of a code block in a
``<span>`` of its own, and most of them are coloured exactly like the text
around them, in furo's light style and in its dark one. Those spans are
dropped from each page's body (``plain_token_classes`` decides which, from
the two styles), so the code looks the same with fewer elements to style
and lay out before a phone shows the page (the two tutorials with the most:
jacobians/plot_04 went from 6,759 to 5,312, under_the_hood/plot_02 from
5,054 to 3,173). sphinx-gallery links names to their reference in the
doctree, before this runs, so the links stay; a linked name took the code's
colour from its span, and now takes it from cookbook.css (``.highlight pre a``).
"""

import functools
import re

from pygments.token import STANDARD_TYPES, Text, Whitespace
from sphinx.highlighting import PygmentsBridge


def plain_token_classes(styles) -> set[str]:
    """The Pygments classes that every one of STYLES draws exactly like plain
    text (``Token.Text``), plus whitespace wherever it has no underline or
    background (it has no ink, so its colour never shows)."""
    plain = set()
    for token, name in STANDARD_TYPES.items():
        if name and all(style.style_for_token(token) == style.style_for_token(Text) for style in styles):
            plain.add(name)
    if not any(style.style_for_token(Whitespace)[key] for style in styles for key in ("underline", "bgcolor", "border")):
        plain.add(STANDARD_TYPES[Whitespace])
    return plain


@functools.cache
def plain_spans(light, dark: str) -> re.Pattern:
    """The spans of code tokens that look like plain code in the LIGHT style
    (a Pygments style) and the DARK one (by name): furo's two."""
    styles = [light, PygmentsBridge("html", dark).formatter_args["style"]]
    names = "|".join(sorted(map(re.escape, plain_token_classes(styles))))
    return re.compile(rf'<span class="(?:{names})">([^<]*)</span>')


def unwrap(app, pagename, templatename, context, doctree):
    if context.get("body"):
        plain = plain_spans(app.builder.highlighter.formatter_args["style"], app.config.pygments_dark_style)
        context["body"] = plain.sub(r"\1", context["body"])


def setup(app):
    app.connect("html-page-context", unwrap)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
