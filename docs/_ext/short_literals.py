"""Short inline code never breaks inside.

Sphinx writes inline code as one span per word (``<span class="pre">(4,</span>
<span class="pre">3,</span> ...``), so a browser may break a line at any of
its spaces, and a shape or a call's arguments is split as "(4," / "3, 4, 2)".
This module marks each inline code of at most ``SHORT`` characters with the
class ``unbroken`` when a page is written, and docs/_static/cookbook.css keeps
those on one line. Longer code may still break at its spaces: kept whole, it
would stick out of a phone's column (about 40 characters of code at 390 px).
"""

import html
import re

LITERAL = re.compile(r'<code class="docutils literal notranslate">(.*?)</code>', re.S)
TAG = re.compile(r"<[^>]+>")
SHORT = 40  # characters; a phone's column holds about 44 of inline code


def mark(match: re.Match) -> str:
    text = html.unescape(TAG.sub("", match.group(1)))
    if " " not in text or len(text) > SHORT:
        return match.group(0)
    return f'<code class="docutils literal notranslate unbroken">{match.group(1)}</code>'


def mark_short_literals(app, pagename, templatename, context, doctree):
    body = context.get("body")
    if body and "docutils literal" in body:
        context["body"] = LITERAL.sub(mark, body)


def setup(app):
    app.connect("html-page-context", mark_short_literals)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
