"""Everything done to a page's HTML once written: one ``html-page-context`` hook.

The head preloads the KaTeX fonts the page's maths uses and leaves out assets
it does not use; the body goes through ``body_steps`` in order, each a ``str
-> str`` function. Each step stays for a figure, with / without it, on the
built site's heaviest pages (Chromium 156, Lighthouse 12.2.3, December 2026),
and cites what it works around (texts for issues not yet filed:
docs/contributing.md, "Upstream issues to file"):

- preload_fonts: layout shift (CLS) 0.000 / 0.105 on a phone, 0.002 / 0.312 on
  a laptop on jacobians/plot_04 (index: 0.000 / 0.039), fonts 300 ms late. A
  browser fetches a web font only when layout meets text that needs it; KaTeX
  advises preloading (https://github.com/KaTeX/KaTeX/pull/1895,
  https://github.com/KaTeX/KaTeX/blob/main/docs/browser.md).
- used: 41 of 44 pages no longer fetch mystnb.css (43 kB, render-blocking),
  none sg-tags.js (4.7 kB, parser-blocking); with conf.py's ``css`` option,
  jacobians/plot_04 on a slow link (150 ms, 1.6 Mbit/s) makes 26 / 31
  requests, first paint 1.47 / 1.57 s. Sphinx links an extension's assets
  from every page (https://github.com/sphinx-doc/sphinx/issues/8302):
  https://github.com/executablebooks/MyST-NB/blob/v1.4.0/myst_nb/sphinx_ext.py#L202-L206
  (https://github.com/executablebooks/MyST-NB/issues/377),
  https://github.com/sphinx-gallery/sphinx-gallery/blob/v0.22.1/sphinx_gallery/gen_gallery.py#L1860.
- size_images: Lighthouse's "unsized-images" 0 / 1 on jacobians/plot_04 (api:
  0 / 175); a figure arriving in view moves the text below it, CLS 0.000 /
  0.343 on a phone, 0.001 / 0.12 on a laptop. sphinx-gallery writes figures
  and thumbnails unsized (backreferences.py#L311-L328,
  https://github.com/sphinx-gallery/sphinx-gallery/blob/v0.22.1/sphinx_gallery/directives.py#L380).
- note_text_sizes: 20 bytes a figure, for tests/test_browser.py; an attribute,
  as that directive keeps one class (directives.py#L374-L378).
- link_full_size: one element a figure; a tap on a phone opens the 2x file.
- lazy_thumbnails: 253 / 807 KiB fetched by the load event on api, 237 / 776
  on index, on that slow link
  (https://github.com/sphinx-gallery/sphinx-gallery/issues/803).
- unwrap_plain_spans: 7,795 / 9,967 elements on jacobians/plot_04, 4,528 /
  7,982 on under_the_hood/plot_02; style recalculation 111 / 154 and 99 / 148
  ms (median of 7). Pygments wraps every token in a span
  (https://github.com/pygments/pygments/issues/1226), as do sphinx-gallery's
  code links (_doctree_links.py#L229-L234, v0.22.1).
- label_table_cells: the 196 cells of 5 tables name their column on a phone.
- keep_short_literals_whole: short inline code broken at 390 px, 0 / 27 of
  166. Sphinx lets inline code break at its spaces (after
  https://github.com/sphinx-doc/sphinx/pull/9929,
  https://github.com/sphinx-doc/sphinx/blob/v9.0.4/sphinx/writers/html5.py#L826-L832).
- break_card_titles: ``torch.autograd.functional.vjp`` is wider than a card
  (160 px at the narrowest), and would break inside a word.
- one_tag_list: the top gallery index repeats ``id='sg-tag-list'`` once per
  section (``gen_rst.generate_dir_rst``, 0.22.1): the validator reports it.
- caption_levels: axe-core reports the sidebar's captions, a heading role
  without ``aria-level``
  (https://github.com/sphinx-doc/sphinx/blob/v9.0.4/sphinx/writers/html5.py#L500-L510,
  https://github.com/sphinx-doc/sphinx/issues/14030); it can go with
  https://github.com/sphinx-doc/sphinx/pull/14437.
"""

import functools
import html
import os
import re
import struct
from functools import partial
from pathlib import Path

from figure_text import sidecar  # a figure's smallest text size, written by its scraper
from pygments.token import STANDARD_TYPES, Text, Whitespace
from sphinx.highlighting import PygmentsBridge
from sphinx.util import logging

logger = logging.getLogger(__name__)

# A whole tag: a quoted value may hold ">" (sphinx-gallery's alt texts do).
IMG = re.compile(r"""<img\b(?:[^>"']|"[^"]*"|'[^']*')*>""")
SRC = re.compile(r'\bsrc="([^"]+)"')
SRCSET = re.compile(r'\bsrcset="([^"]+)"')
FIGURE = re.compile(r'\bclass\s*=\s*"[^"]*\bsphx-glr-(single|multi)-img\b')
TAG = re.compile(r"<[^>]+>")


# -- Head: what the page asks the browser to load ------------------------------

# KaTeX's font files, and the classes in KaTeX's HTML that make a formula use
# each one (from the font-family rules of katex.min.css). Every formula uses
# KaTeX_Main, and letters in maths use KaTeX_Math.
FONTS = {
    "KaTeX_Main-Regular": "katex",
    "KaTeX_Math-Italic": "mathnormal",
    "KaTeX_Main-Bold": "mathbf|textbf",
    "KaTeX_AMS-Regular": "amsrm|mathbb|textbb",
    "KaTeX_Caligraphic-Regular": "mathcal",
    "KaTeX_Size1-Regular": "delimsizing size1|small-op|delim-size1",
    "KaTeX_Size2-Regular": "delimsizing size2|large-op",
    "KaTeX_Size3-Regular": "delimsizing size3",
    "KaTeX_Size4-Regular": "delimsizing size4|delim-size4",
}
CLASSES = re.compile(r'class="([^"]*)"')


def fonts_used(html_text: str) -> list[str]:
    """The KaTeX fonts that the maths in HTML_TEXT is drawn with."""
    classes = "\n".join(CLASSES.findall(html_text))
    whole = r"(?<![\w-])(?:{})(?![\w-])"  # whole class names: not "katex-display"
    return [
        font for font, names in FONTS.items() if re.search(whole.format(names), classes)
    ]


def shown_navigation(tree: str) -> str:
    """furo's navigation TREE without its collapsed sections (their maths is
    not drawn, so it needs no font yet)."""
    from bs4 import BeautifulSoup  # furo's own dependency

    soup = BeautifulSoup(tree, "html.parser")
    for item in soup.select("li.has-children"):
        box = item.find("input", class_="toctree-checkbox", recursive=False)
        if box is None or not box.has_attr("checked"):
            for hidden in item.find_all("ul", recursive=False):
                hidden.decompose()
    return str(soup)


def preload_fonts(metatags: str, hrefs: list[str]) -> str:
    """METATAGS with a preload of each woff2 font in HREFS."""
    return metatags + "".join(
        f'\n<link rel="preload" href="{href}" as="font" type="font/woff2" crossorigin>'
        for href in hrefs
    )


def used(asset, body: str) -> bool:
    """Whether a page whose body is BODY uses ASSET: myst-nb's stylesheet only
    with notebook cells, sphinx-gallery's tag filter only with tagged cards."""
    name = str(getattr(asset, "filename", asset)).rsplit("/", 1)[-1]
    if name.startswith("sg-tags.js"):
        return "data-sgtags" in body
    if name.startswith("mystnb."):
        return 'class="cell' in body
    return True


# -- Body: the steps, each str -> str --------------------------------------------


def _add_to_images(body: str, attributes, skip: str) -> str:
    """Each <img> with ATTRIBUTES(src) (a string, or None to leave it) added
    at its end, unless the tag already holds SKIP."""

    def add(match):
        tag, src = match.group(0), SRC.search(match.group(0))
        extra = src and attributes(src.group(1))
        if not extra or re.search(skip, tag):
            return tag
        end = -2 if tag.endswith("/>") else -1
        return f"{tag[:end].rstrip()} {extra}{tag[end:]}"

    return IMG.sub(add, body)


def size_images(body: str, sizes: dict[str, tuple[int, int]]) -> str:
    """Width and height (SIZES, by src) on each <img> that has neither: the
    space is kept before the file arrives (cookbook.css scales it down)."""

    def size(src):
        return src in sizes and 'width="{}" height="{}"'.format(*sizes[src])

    return _add_to_images(body, size, r"\s(width|height)=")


def note_text_sizes(body: str, text_px: dict[str, str]) -> str:
    """Each figure's smallest text size in px (TEXT_PX, by src, from
    figure_text.py) as data-text-px."""

    def text(src):
        return src in text_px and f'data-text-px="{text_px[src]}"'

    return _add_to_images(body, text, r"\sdata-text-px=")


def link_full_size(body: str) -> str:
    """Each figure inside a link to its largest file (the last of its srcset)."""

    def linked(match):
        tag = match.group(0)
        srcset = SRCSET.search(tag)
        if not FIGURE.search(tag) or not srcset:
            return tag
        largest = srcset.group(1).split(",")[-1].split()[0]
        return f'<a class="full-size-figure" href="{largest}">{tag}</a>'

    return IMG.sub(linked, body)


def lazy_thumbnails(body: str) -> str:
    """loading="lazy" on the card thumbnails after the first four, which a
    reader sees first (the API index shows 168 cards)."""
    count = 0

    def lazy(match):
        nonlocal count
        tag, src = match.group(0), SRC.search(match.group(0))
        if not (src and src.group(1).endswith("_thumb.png")):
            return tag
        count += 1
        if count <= 4 or "loading=" in tag:
            return tag
        return tag.replace("<img", '<img loading="lazy"', 1)

    return IMG.sub(lazy, body)


def plain_token_classes(styles) -> frozenset[str]:
    """The Pygments classes every one of STYLES draws like ``Token.Text``, and
    whitespace unless underlined, with a background or a border (it has no
    ink, so its colour never shows)."""
    plain = set()
    for token, name in STANDARD_TYPES.items():
        if name and all(
            s.style_for_token(token) == s.style_for_token(Text) for s in styles
        ):
            plain.add(name)
    keys = ("underline", "bgcolor", "border")
    if not any(s.style_for_token(Whitespace)[key] for s in styles for key in keys):
        plain.add(STANDARD_TYPES[Whitespace])
    return frozenset(plain)


@functools.cache
def plain_spans(classes: frozenset[str]) -> re.Pattern:
    names = "|".join(sorted(map(re.escape, classes)))
    return re.compile(rf'<span class="(?:{names})">([^<]*)</span>')


def unwrap_plain_spans(body: str, classes: frozenset[str]) -> str:
    """Code without the spans of CLASSES, drawn like plain code: it looks the
    same. A linked name keeps its link (coloured by cookbook.css)."""
    return plain_spans(classes).sub(r"\1", body) if classes else body


TABLE = re.compile(r"<table\b[^>]*>.*?</table>", re.S)
HEADER_CELL = re.compile(r"<th\b[^>]*>(.*?)</th>", re.S)
ROW = re.compile(r"<tr\b[^>]*>.*?</tr>", re.S)


def label_table_cells(body: str) -> str:
    """Each body cell of a table with a header row gets its column's name as
    data-label, which cookbook.css shows when a phone stacks the rows (CSS can
    show an attribute, not another cell)."""

    def labelled(match):
        head, found, rows = match.group(0).partition("</thead>")
        if not found:
            return match.group(0)
        names = [
            html.unescape(TAG.sub("", cell)).strip()
            for cell in HEADER_CELL.findall(head)
        ]

        def label_row(row):
            cells = iter(names)
            return re.sub(
                r"<td\b",
                lambda m: f'<td data-label="{html.escape(next(cells, ""))}"',
                row.group(0),
            )

        return head + found + ROW.sub(label_row, rows)

    return TABLE.sub(labelled, body) if "<thead" in body else body


LITERAL_CLASS = "docutils literal notranslate"  # Sphinx's inline code
LITERAL = re.compile(rf'<code class="{LITERAL_CLASS}">(.*?)</code>', re.S)


def keep_short_literals_whole(body: str) -> str:
    """The class "unbroken", which cookbook.css keeps on one line, on inline
    code with a space of at most 40 characters ("(4, 3, 4, 2)"): longer code
    may break, or stick out of a phone's column (44 characters at 390 px)."""

    def mark(match):
        text = html.unescape(TAG.sub("", match.group(1)))
        if " " not in text or len(text) > 40:
            return match.group(0)
        return f'<code class="{LITERAL_CLASS} unbroken">{match.group(1)}</code>'

    return LITERAL.sub(mark, body)


CARD_TITLE = re.compile(r'(<div class="sphx-glr-thumbnail-title">)(.*?)(</div>)', re.S)
DOTTED_NAME = re.compile(r"\b\w+(?:\.\w+)+\b")


def break_card_titles(body: str) -> str:
    """A <wbr> after each dot of a dotted name of 20 characters or more in a
    card's title: it breaks between its parts before cookbook.css lets it
    break anywhere. A shorter name moves to the next line whole, as a word."""

    def wrap(match):
        name = match[0]
        return name.replace(".", ".<wbr>") if len(name) >= 20 else name

    return CARD_TITLE.sub(lambda m: m[1] + DOTTED_NAME.sub(wrap, m[2]) + m[3], body)


TAG_LIST = "id='sg-tag-list' "


def one_tag_list(body: str) -> str:
    """sphinx-gallery's tag-list id on its first element only."""
    first, found, rest = body.partition(TAG_LIST)
    return first + found + rest.replace(TAG_LIST, "")


def caption_levels(html_text: str) -> str:
    """aria-level="2" on the toctree captions' heading role."""
    caption = 'class="caption" role="heading"'
    return html_text.replace(f"{caption}>", f'{caption} aria-level="2">')


# -- What the steps need to know about a page -------------------------------------


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) of a PNG file, from its header."""
    with open(path, "rb") as file:
        head = file.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG file")
    return struct.unpack(">II", head[16:24])


@functools.cache
def _sources(srcdir: str) -> dict[str, Path]:
    """PNG files under the source folder by file name: where a page's _images/
    file comes from before Sphinx copies it. Read once per process: the
    examples, which make the figures, have run before any page is written."""
    found = {}
    for path in Path(srcdir).rglob("*.png"):
        found.setdefault(path.name, path)
    return found


def find_image(src: str, page_dir: Path, srcdir: Path) -> Path | None:
    """The file of an image whose address on a page in PAGE_DIR is SRC: in the
    output, or (not yet copied there) among the sources, by name."""
    path = Path(os.path.normpath(page_dir / src))
    return path if path.is_file() else _sources(str(srcdir)).get(path.name)


def image_facts(app, pagename: str, body: str) -> tuple[dict, dict]:
    """({src: (width, height)}, {src: smallest text px}) of the page's PNGs."""
    sizes, text_px = {}, {}
    page_dir = Path(app.outdir, pagename).parent
    for tag in IMG.findall(body):
        src = SRC.search(tag)
        if not src or not src.group(1).endswith(".png") or src.group(1) in sizes:
            continue
        path = find_image(src.group(1), page_dir, Path(app.srcdir))
        if path is None:
            logger.warning(
                f"page_html: cannot find {src.group(1)} to size it", location=pagename
            )
            continue
        sizes[src.group(1)] = png_size(path)
        source = _sources(str(app.srcdir)).get(path.name)
        if source and sidecar(source).is_file():
            text_px[src.group(1)] = sidecar(source).read_text().strip()
    return sizes, text_px


@functools.cache
def _plain_classes(light_style, dark: str) -> frozenset[str]:
    return plain_token_classes(
        [light_style, PygmentsBridge("html", dark).formatter_args["style"]]
    )


def body_steps(app, pagename: str, body: str) -> list:
    """The steps a page's body goes through, in order."""
    sizes, text_px = image_facts(app, pagename, body)
    # The Pygments styles of furo's light and dark themes.
    light = app.builder.highlighter.formatter_args["style"]
    return [
        partial(size_images, sizes=sizes),
        partial(note_text_sizes, text_px=text_px),
        link_full_size,
        lazy_thumbnails,
        partial(
            unwrap_plain_spans,
            classes=_plain_classes(light, app.config.pygments_dark_style),
        ),
        label_table_cells,
        keep_short_literals_whole,
        break_card_titles,
        one_tag_list,
        caption_levels,
    ]


def rewrite(app, pagename, templatename, context, doctree):
    body, tree = context.get("body") or "", context.get("furo_navigation_tree") or ""
    fonts = [
        context["pathto"](f"_static/katex/fonts/{font}.woff2", 1)
        for font in fonts_used(body + shown_navigation(tree))
    ]
    context["metatags"] = preload_fonts(context.get("metatags", ""), fonts)
    for key in ("css_files", "script_files"):
        context[key] = [asset for asset in context.get(key, []) if used(asset, body)]
    if body:
        for step in body_steps(app, pagename, body):
            body = step(body)
        context["body"] = body
    context["furo_navigation_tree"] = caption_levels(tree)


def setup(app):
    # After furo's hook (priority 500), which makes the navigation tree.
    app.connect("html-page-context", rewrite, priority=600)
    # Makes boxes that scroll focusable (axe-core's scrollable-region-focusable).
    app.add_js_file("cookbook.js")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
