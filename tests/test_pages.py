"""Each tutorial page shows what a reader came for: its title, typeset maths,
output under its code cells, its checks, its figure and its downloads. And
the maths of every page is typeset, with every TeX command the site uses
shown on the construct page (docs/maths_constructs.md).

What a page's outputs say is not pinned here: tests/test_downloads.py checks
that each page shows exactly what its example prints when a reader runs it,
so an output changes with its example and no test needs editing."""

import pickle
import re

import pytest
from conftest import EXAMPLES, REPO, page_outputs, soup, tutorial_page
from docutils import nodes

# Code that checks: an assert statement or an assert_* call (assert_close, ...).
CHECK = re.compile(r"^\s*(assert\b|[\w.]*\bassert_\w+\()", re.M)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_tutorial_page(site, example):
    page = soup(tutorial_page(site.html, example))

    # The page's heading is the example's title (the docstring's first line).
    title = (
        example.read_text(encoding="utf-8").split('r"""', 1)[1].strip().splitlines()[0]
    )
    heading = page.find("h1")
    heading.find("a", class_="headerlink").decompose()
    assert (
        heading.get_text(" ", strip=True).replace("\u2019", "'") == title
    )  # smart quotes

    # Maths is typeset at build time (KaTeX's HTML, with MathML for screen readers), no TeX left for a script.
    maths = page.select("article math")
    assert len(maths) >= 3
    assert all(m.find(True) is not None for m in maths), "an empty <math> element"
    article = page.select_one("article")
    prose = " ".join(
        t for t in article.find_all(string=True) if not t.find_parent("pre")
    )
    assert not re.search(r"\\(frac|mathbb|partial|top|sum|begin)\b", prose)
    assert ":math:" not in prose

    outputs = page_outputs(page)
    assert len(outputs) >= 3, "output under the code cells"
    if example.parent.name == "basics":
        errors = re.findall(r"max \|.*\| = (\d\.\de[-+]\d\d)", "\n".join(outputs))
        assert errors and all(float(e) < 1e-12 for e in errors), (
            "the readable error line"
        )

    code = "\n".join(
        block.get_text()
        for block in article.select("div.highlight pre")
        if not block.find_parent(class_="sphx-glr-script-out")
    )
    assert CHECK.search(code), "the page shows its checks"

    figures = page.select("img.sphx-glr-single-img, img.sphx-glr-multi-img")
    assert figures, "a figure"
    for img in figures:
        assert (tutorial_page(site.html, example).parent / img["src"]).is_file()

    links = {
        a["href"].rsplit("/", 1)[-1]
        for a in page.select("a[href]")
        if "_downloads" in a["href"]
    }
    assert {example.name, example.stem + ".ipynb"} <= links


def test_gallery_offers_zips_and_thumbnails(site):
    index = soup(site.html / "auto_examples" / "index.html")
    zips = {a["href"].rsplit("/", 1)[-1] for a in index.select("a[href$='.zip']")}
    assert zips == {"auto_examples_python.zip", "auto_examples_jupyter.zip"}
    thumbs = index.select("div.sphx-glr-thumbcontainer img")
    assert len(thumbs) == len(EXAMPLES)
    for img in thumbs:
        assert (site.html / "auto_examples" / img["src"]).is_file()


def test_construct_page_shows_every_tex_command_the_site_uses(site):
    shown = (REPO / "docs" / "maths_constructs.md").read_text()
    missing = {}
    for tree in (site.root / "build" / "doctrees").rglob("*.doctree"):
        if tree.stem == "maths_constructs":
            continue
        for node in pickle.loads(tree.read_bytes()).findall(
            lambda n: isinstance(n, (nodes.math, nodes.math_block))
        ):
            for command in re.findall(r"\\[A-Za-z]+|\\[,;:!{}|]", node.astext()):
                if command not in shown:
                    missing.setdefault(command, tree.stem)
    assert not missing, f"add these to docs/maths_constructs.md: {missing}"


def test_most_pages_have_typeset_maths(site):
    # Tutorials and concept pages carry maths; tests/test_browser.py checks that it is drawn.
    with_maths = [
        p for p in site.html.rglob("*.html") if "<math" in p.read_text(encoding="utf-8")
    ]
    assert len(with_maths) >= len(EXAMPLES) + 3
    # ... and the opening brackets before inline maths are bound to it, and short
    # inline code is kept whole (the browser checks have some of each to look at).
    assert (
        sum(
            p.read_text(encoding="utf-8").count('class="katex-opening"')
            for p in with_maths
        )
        >= 10
    )
    cheat_sheet = (site.html / "concepts" / "cheat_sheet.html").read_text(
        encoding="utf-8"
    )
    assert cheat_sheet.count("literal notranslate unbroken") >= 20
