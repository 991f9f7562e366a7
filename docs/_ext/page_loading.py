"""What a page asks the browser to load, and how early (Lighthouse's findings).

- **KaTeX's fonts are preloaded.** The stylesheet names them, so without help
  a browser asks for a font only once it has laid the page out and found
  maths that needs it. The maths is laid out first in a fallback font, and
  again when each KaTeX font arrives, and the lines below move each time
  (Lighthouse measured a layout shift of 0.155 on basics/plot_01). Each page
  now preloads, from its ``<head>``, the fonts its maths uses (in the page
  and in the open part of the navigation), which it reads from the class
  names of KaTeX's HTML (``FONTS``), so they arrive with the stylesheets.
- **Stylesheets a page does not use are left out.** myst-nb's stylesheet
  (43 kB, for notebook cells) is linked only from pages that have cells.
  sphinx-gallery's sheets for Binder links, pandas tables and HTML output are
  linked from no page, because the site has none of these; nor is its script
  that filters cards by tag, since no example has tags.
- **Card thumbnails below the first few load lazily.** The API index shows
  168 of them.
"""

import re

from image_sizes import IMG, SRC  # a whole <img> tag (its alt may hold ">"), and its src

# KaTeX's font files, and the class in KaTeX's HTML that makes a formula use
# each one (from the font-family rules of katex.min.css). Every formula uses
# KaTeX_Main, and letters in maths use KaTeX_Math.
FONTS = {
    "KaTeX_Main-Regular": r"\bkatex\b",
    "KaTeX_Math-Italic": r"\bmathnormal\b",
    "KaTeX_Main-Bold": r"\b(mathbf|textbf)\b",
    "KaTeX_AMS-Regular": r"\b(amsrm|mathbb|textbb)\b",
    "KaTeX_Caligraphic-Regular": r"\bmathcal\b",
    "KaTeX_Size1-Regular": r"\b(delimsizing size1|small-op|delim-size1)\b",
    "KaTeX_Size2-Regular": r"\b(delimsizing size2|large-op)\b",
    "KaTeX_Size3-Regular": r"\bdelimsizing size3\b",
    "KaTeX_Size4-Regular": r"\b(delimsizing size4|delim-size4)\b",
}
CLASSES = re.compile(r'class="([^"]*)"')
UNUSED_ANYWHERE = ("sg_gallery-binder.css", "sg_gallery-dataframe.css", "sg_gallery-rendered-html.css")
EAGER_THUMBNAILS = 4  # the ones a reader sees first: loaded at once


def fonts_used(html: str) -> list[str]:
    """The KaTeX fonts that the maths in HTML is drawn with."""
    classes = "\n".join(CLASSES.findall(html))
    return [font for font, pattern in FONTS.items() if re.search(pattern, classes)]


def shown_navigation(tree: str) -> str:
    """The entries of furo's navigation tree that the page shows open: maths
    in a collapsed section is not drawn, so it needs no font yet."""
    from bs4 import BeautifulSoup  # furo's own dependency

    soup = BeautifulSoup(tree, "html.parser")
    for item in soup.select("li.has-children"):
        box = item.find("input", class_="toctree-checkbox", recursive=False)
        if box is None or not box.has_attr("checked"):
            for hidden in item.find_all("ul", recursive=False):
                hidden.decompose()
    return str(soup)


def lighten(app, pagename, templatename, context, doctree):
    body = context.get("body") or ""
    drawn = body + shown_navigation(context.get("furo_navigation_tree") or "")
    preloads = "".join(
        f'\n<link rel="preload" href="{context["pathto"]("_static/katex/fonts/" + font + ".woff2", 1)}"'
        ' as="font" type="font/woff2" crossorigin>'
        for font in fonts_used(drawn)
    )
    context["metatags"] = context.get("metatags", "") + preloads

    def used(asset):  # a stylesheet or script
        name = str(getattr(asset, "filename", asset)).rsplit("/", 1)[-1]
        if name.startswith("sg-tags.js"):  # sphinx-gallery's filter of cards by tag
            return "data-sgtags" in body  # no card has tags
        return not name.startswith(UNUSED_ANYWHERE) and ('class="cell' in body or not name.startswith("mystnb."))

    context["css_files"] = [css for css in context.get("css_files", []) if used(css)]
    context["script_files"] = [js for js in context.get("script_files", []) if used(js)]

    count = 0

    def lazy(match):
        nonlocal count
        tag, src = match.group(0), SRC.search(match.group(0))
        if not (src and src.group(1).endswith("_thumb.png")):
            return tag
        count += 1
        return tag if count <= EAGER_THUMBNAILS else tag.replace("<img", '<img loading="lazy"', 1)

    if body:
        context["body"] = IMG.sub(lazy, body)


def setup(app):
    app.connect("html-page-context", lighten, priority=600)  # after furo's navigation tree (500)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
