"""The site's own configuration on a tiny site, built in this process.

The way sphinx-gallery tests itself with its "tinybuild": conf.py at the
repository's root is the configuration (so its extensions, its
sphinx-gallery options and its build helpers are what is tested), and the
sources are a copy of tests/unit/tinybuild/: one Markdown page with maths and
a table, and a gallery of one example that needs no torch (a docstring with
:math:, a printed line, a figure with maths in its title). The build takes a
few seconds; what it checks is what the helpers of docs/_ext do to a page, a
card and a notebook, and that a warning fails the build, as in `make html`.
"""

import io
import json
import re
import runpy
import shutil
import warnings
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from sphinx.application import Sphinx

REPO = Path(__file__).resolve().parents[2]
TINY = Path(__file__).resolve().parent / "tinybuild"
# TeX that typeset maths never leaves in a page's text.
RAW_TEX = re.compile(r"\$|\\[A-Za-z]+|:math:")


def overrides(root: Path) -> dict:
    """conf.py's settings that point at the site itself, pointed at the tiny one."""
    conf = runpy.run_path(str(REPO / "conf.py"))
    sphinx_gallery_conf = dict(conf["sphinx_gallery_conf"])
    # One section, not the site's five; no torch reset: the example imports no torch.
    sphinx_gallery_conf["subsection_order"] = None
    sphinx_gallery_conf["reset_modules"] = ("matplotlib",)
    return {
        "sphinx_gallery_conf": sphinx_gallery_conf,
        "nb_execution_cache_path": str(root / "build" / "jupyter_cache"),
    }


def build(root: Path, **options) -> tuple[Sphinx, str]:
    """Build ROOT/docs with the repository's conf.py into ROOT/build/html,
    Sphinx's warnings as errors (as `make html` has them); return the
    application and the warnings it wrote."""
    log = io.StringIO()
    # Python's deprecation warnings stay silent, as in sphinx-build (pytest would
    # make them errors).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        # offline_math closes node's input but leaves its output pipe to the
        # garbage collector, which a process that ends (sphinx-build) never notices.
        warnings.simplefilter("ignore", ResourceWarning)
        app = Sphinx(
            srcdir=root / "docs",
            confdir=REPO,
            outdir=root / "build" / "html",
            doctreedir=root / "build" / "doctrees",
            buildername="html",
            confoverrides=overrides(root),
            status=io.StringIO(),
            warning=log,
            warningiserror=True,
            **options,
        )
        app.build()
    return app, log.getvalue()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny site, built once; its root folder."""
    root = tmp_path_factory.mktemp("tiny")
    shutil.copytree(TINY, root, dirs_exist_ok=True)
    with pytest.MonkeyPatch.context() as patch:
        # conf.py's notebook kernel sets JUPYTER_PATH for the build: put it back after.
        patch.delenv("JUPYTER_PATH", raising=False)
        patch.chdir(root)
        app, warnings = build(root)
    assert app.statuscode == 0 and not warnings, warnings
    return root


def page_of(root: Path, name: str) -> BeautifulSoup:
    return BeautifulSoup(
        (root / "build" / "html" / name).read_text(encoding="utf-8"), "html.parser"
    )


def prose(soup: BeautifulSoup) -> str:
    """The text of SOUP's article outside code and KaTeX's MathML."""
    article = soup.select_one("article")
    for hidden in article.select("pre, .katex-mathml"):
        hidden.decompose()
    return article.get_text(" ")


def test_maths_is_typeset_and_no_tex_is_left(tiny):
    for name in ("index.html", "auto_examples/tiny/plot_01_tiny.html"):
        soup = page_of(tiny, name)
        assert soup.select("article .katex math"), f"{name}: no KaTeX maths"
        text = prose(soup)
        assert not RAW_TEX.search(text), (
            f"{name}: {RAW_TEX.search(text).group()!r} left in {text[:300]!r}"
        )


def test_the_page_shows_what_the_example_printed_and_its_figure(tiny):
    soup = page_of(tiny, "auto_examples/tiny/plot_01_tiny.html")
    outputs = [pre.get_text() for pre in soup.select("div.sphx-glr-script-out pre")]
    assert outputs == ["printed by the tiny example\n"]
    (figure,) = soup.select("article img.sphx-glr-single-img")
    assert not RAW_TEX.search(figure["alt"]), (
        f"the figure's alt text holds TeX: {figure['alt']!r}"
    )
    assert "x²" in figure["alt"], figure["alt"]


def test_table_cells_name_their_column(tiny):
    cells = page_of(tiny, "index.html").select("article table tbody td")
    assert [cell.get("data-label") for cell in cells] == ["function", "derivative"]


def test_toctree_captions_have_a_heading_level(tiny):
    """In the page and in furo's sidebar, which draws it again."""
    captions = page_of(tiny, "index.html").select("p.caption[role=heading]")
    assert len(captions) == 2
    assert all(caption.get("aria-level") == "2" for caption in captions), captions


def test_the_card_tooltip_is_plain_text(tiny):
    (card,) = page_of(tiny, "auto_examples/index.html").select(
        "div.sphx-glr-thumbcontainer"
    )
    tooltip = card.get("data-tooltip") or card.get("tooltip")
    assert tooltip == "The derivative of x² is 2x.", tooltip


def test_the_notebook_markdown_cells_are_markdown(tiny):
    """Maths, a literal and a role to PyTorch's reference, in Markdown: the
    role a link to the pinned reference, as the page links it."""
    notebook = json.loads(
        (tiny / "docs" / "auto_examples" / "tiny" / "plot_01_tiny.ipynb").read_text(
            encoding="utf-8"
        )
    )
    markdown = [
        "".join(cell["source"])
        for cell in notebook["cells"]
        if cell["cell_type"] == "markdown"
    ]
    text = "\n".join(markdown)
    assert "$x^2$" in text and "$2x$" in text, text
    assert "`x**2`" in text and "``" not in text, text
    page = page_of(tiny, "auto_examples/tiny/plot_01_tiny.html")
    (reference,) = [
        a["href"]
        for a in page.select("article p a.reference.external")
        if "torch.autograd.grad" in a["href"]
    ]
    assert f"]({reference})" in text, text
    assert not re.search(r":\w+:`", text), text


def test_maths_that_cannot_be_typeset_fails_the_build(tiny, tmp_path):
    """A warning is an error: a :math: role KaTeX cannot typeset fails the
    build, naming its page."""
    root = tmp_path / "broken"
    shutil.copytree(tiny, root)  # built: only the edited example is read and run again
    example = root / "examples" / "tiny" / "plot_01_tiny.py"
    example.write_text(
        example.read_text(encoding="utf-8").replace(
            r":math:`2x`", r":math:`\notacommand{x}`"
        ),
        encoding="utf-8",
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("JUPYTER_PATH", raising=False)  # put back after, as above
        patch.chdir(root)
        app, warnings = build(root, keep_going=True)
    assert app.statuscode != 0
    assert "plot_01_tiny" in warnings and "notacommand" in warnings, warnings
