"""The small gallery helpers of docs/_ext: where a generated page comes from
(gallery_dirs), card tooltips in plain text under data-tooltip
(card_tooltips), break opportunities in long dotted names of card titles
(card_titles), one tag-list id per page (tag_lists). Each on a doctree made
here, with this repository's examples and conf.py's gallery folders."""

from pathlib import Path
from types import SimpleNamespace

import card_titles
import card_tooltips
import pytest
import tag_lists
from docutils import nodes
from docutils.utils import new_document
from gallery_dirs import example_source, gallery_pairs
from sphinx import addnodes

REPO = Path(__file__).resolve().parents[2]


def fake_app(examples_dirs="../examples", gallery_dirs="auto_examples"):
    gallery = {
        "examples_dirs": examples_dirs,
        "gallery_dirs": gallery_dirs,
        "example_extensions": {".py"},
    }
    noted = []
    return SimpleNamespace(
        srcdir=str(REPO / "docs"),
        config=SimpleNamespace(sphinx_gallery_conf=gallery),
        env=SimpleNamespace(note_dependency=noted.append, noted=noted),
    )


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
def test_example_source(docname, source):
    assert example_source(fake_app(), docname) == source


def test_gallery_pairs_take_a_string_or_lists():
    one = gallery_pairs(fake_app())
    assert one == gallery_pairs(fake_app(["../examples"], ["auto_examples"]))
    assert one == [(REPO / "examples", REPO / "docs" / "auto_examples")]


def card(target, tooltip, title):
    """A document holding one card as sphinx-gallery's THUMBNAIL_TEMPLATE makes it."""
    document = new_document("index")
    opening = f'<div class="sphx-glr-thumbcontainer" tooltip="{tooltip}">'
    link = nodes.paragraph(
        "", "", addnodes.pending_xref("", reftype="doc", reftarget=target)
    )
    closing = f'<div class="sphx-glr-thumbnail-title">{title}</div>\n</div>'
    document += [
        nodes.raw("", opening, format="html"),
        link,
        nodes.raw("", closing, format="html"),
    ]
    return document


def test_card_tooltip_in_plain_text_under_data_tooltip():
    app = fake_app()
    document = card(
        "/auto_examples/basics/plot_05_batched_jacobian_two_inputs",
        r"maps \mathbb{R}^2 \to",
        "t",
    )
    card_tooltips.rewrite_tooltips(app, document)
    opening = document.children[0].astext()
    assert ' tooltip="' not in opening and "data-tooltip=" in opening
    assert "ℝ² → ℝ³" in opening and "\\" not in opening
    assert app.env.noted == [
        str(REPO / "examples/basics/plot_05_batched_jacobian_two_inputs.py")
    ]


def test_long_dotted_names_in_card_titles_break_at_their_dots():
    title = "Every argument of torch.autograd.functional.vjp, and torch.func"
    document = card(
        "/auto_examples/in_practice/plot_02_vjp_arguments_and_errors", "x", title
    )
    card_titles.wrap_titles(None, document)
    assert (
        "torch.<wbr>autograd.<wbr>functional.<wbr>vjp," in document.children[2].astext()
    )
    assert "and torch.func<" in document.children[2].astext(), (
        "a short name moves whole, as a word"
    )


def test_the_tag_list_id_once_per_page():
    document = new_document("index")
    tag_list = "<div id='sg-tag-list' class='sphx-glr-tag-list'></div>"
    document += [nodes.raw("", tag_list, format="html") for _ in range(3)]
    tag_lists.drop_repeated_ids(None, document)
    assert [raw.astext().count("id='sg-tag-list'") for raw in document.children] == [
        1,
        0,
        0,
    ]
