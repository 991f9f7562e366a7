"""Each tutorial page shows what a reader came for: its title, typeset maths,
the output under its code cells, its checks, its figure and its downloads."""

import re

import pytest

from conftest import EXAMPLES, page_outputs, soup, tutorial_page

# A line of each page's output that only a run of that example prints.
EXPECTED_OUTPUT = {
    "plot_01_elementwise_derivative": "f(x): (1000,)   v^T J: (1000,)",
    "plot_02_per_sample_gradients": "f(x): (1000,)   v^T J: (1000, 2)",
    "plot_03_two_inputs": "f(x, y): (1000,)   v^T J_x: (1000,)   v^T J_y: (1000,)",
    "plot_04_batched_jacobian": "Jacobians: (1000, 3, 2)",
    "plot_05_batched_jacobian_two_inputs": "Jacobians: (1000, 3, 2)",
}


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_tutorial_page(site, example):
    page = soup(tutorial_page(site.html, example))

    # The page's heading is the example's title (the docstring's first line).
    title = example.read_text(encoding="utf-8").split('r"""', 1)[1].strip().splitlines()[0]
    heading = page.find("h1")
    heading.find("a", class_="headerlink").decompose()
    assert heading.get_text(" ", strip=True) == title

    # Maths is MathML written at build time, with no TeX left for a script.
    maths = page.select("article math")
    assert len(maths) >= 5
    assert all(m.find(True) is not None for m in maths), "an empty <math> element"
    article = page.select_one("article")
    prose = " ".join(t for t in article.find_all(string=True) if not t.find_parent("pre"))
    assert not re.search(r"\\(frac|mathbb|partial|top|sum|begin)\b", prose)
    assert ":math:" not in prose

    outputs = page_outputs(page)
    assert len(outputs) >= 3, "output under the code cells"
    text = "\n".join(outputs)
    assert EXPECTED_OUTPUT[example.stem] in text
    errors = re.findall(r"max \|.*\| = (\d\.\de[-+]\d\d)", text)
    assert errors and all(float(e) < 1e-12 for e in errors), "the readable error line"

    assert "torch.testing.assert_close(" in article.get_text()

    figures = page.select("img.sphx-glr-single-img, img.sphx-glr-multi-img")
    assert figures, "a figure"
    for img in figures:
        assert (tutorial_page(site.html, example).parent / img["src"]).is_file()

    links = {a["href"].rsplit("/", 1)[-1] for a in page.select("a[href]") if "_downloads" in a["href"]}
    assert {example.name, example.stem + ".ipynb"} <= links


def test_gallery_offers_zips_and_thumbnails(site):
    index = soup(site.html / "auto_examples" / "index.html")
    zips = {a["href"].rsplit("/", 1)[-1] for a in index.select("a[href$='.zip']")}
    assert zips == {"auto_examples_python.zip", "auto_examples_jupyter.zip"}
    thumbs = index.select("div.sphx-glr-thumbcontainer img")
    assert len(thumbs) == len(EXAMPLES)
    for img in thumbs:
        assert (site.html / "auto_examples" / img["src"]).is_file()
