"""docs/_ext/source_links.py: the file each generated gallery page is made
from (for the other helpers too), and the edit and view links to it, with this
repository's examples and conf.py's gallery folders."""

from pathlib import Path

import pytest
from source_links import example_source, gallery_pairs, point_links_at_sources

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "docname, source",
    [
        (
            "auto_examples/basics/plot_01_elementwise_derivative",
            "../examples/basics/plot_01_elementwise_derivative.py",
        ),
        ("auto_examples/basics/index", "../examples/basics/GALLERY_HEADER.rst"),
        ("auto_examples/index", "../examples/GALLERY_HEADER.rst"),
        ("auto_examples/basics/plot_99_no_such_example", None),
        ("concepts/glossary", None),
    ],
)
def test_example_source(fake_app, docname, source):
    assert example_source(fake_app(), docname) == source


def test_gallery_pairs_take_a_string_or_lists(fake_app):
    one = gallery_pairs(fake_app())
    assert one == gallery_pairs(fake_app(["../examples"], ["auto_examples"]))
    assert one == [(REPO / "examples", REPO / "docs" / "auto_examples")]


def test_a_tutorial_links_to_its_example(fake_app):
    context = {
        "theme_source_repository": "https://github.com/o/r/",
        "theme_source_directory": "docs/",
    }
    page = "auto_examples/basics/plot_01_elementwise_derivative"
    point_links_at_sources(fake_app(), page, "page.html", context, None)
    path = "examples/basics/plot_01_elementwise_derivative.py"
    assert (
        context["theme_source_edit_link"] == f"https://github.com/o/r/edit/main/{path}"
    )
    assert context["theme_source_view_link"] == (
        f"https://github.com/o/r/blob/main/{path}?plain=true"
    )
