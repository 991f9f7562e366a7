r"""docs/_ext/notebook_markdown.py: the reST that sphinx-gallery's rst2md leaves
in a notebook's Markdown cells becomes Markdown (tables, links to PyTorch and
to the site, display maths), checked on text from the examples run through
sphinx-gallery's own rst2md; and what the module relies on in sphinx-gallery
is still there."""

import inspect
import itertools
import json
import re
import zlib
from collections import defaultdict
from types import SimpleNamespace

import notebook_markdown
import pytest
from notebook_markdown import (
    REST,
    NotMarkdown,
    Targets,
    leftover_rest,
    markdown_table,
    to_markdown,
)
from sphinx_gallery import gen_gallery, gen_rst, notebook

SITE = "https://vjp.example/site/"
TORCH = "https://docs.pytorch.org/docs/2.13/"
# An inventory as sphinx.util.inventory reads it: four header lines, then zlib.
INVENTORY = {
    "torch.func.jvp py:function 1 generated/torch.func.jvp.html -",
    "torch.autograd.gradcheck py:function 1 generated/torch.autograd.gradcheck.html -",
    "torch.autograd.Function py:class 1 autograd.html#torch.autograd.Function -",
}


def rst2md(text):
    """The Markdown cell sphinx-gallery writes for the reST TEXT."""
    levels = defaultdict(itertools.count(1).__next__)
    return notebook.rst2md(text + "\n", {"notebook_images": False}, ".", levels)


@pytest.fixture
def app(tmp_path):
    """What Targets reads of a Sphinx application, over a small source tree:
    one page with a title and one example of the gallery."""
    docs, examples = tmp_path / "docs", tmp_path / "examples"
    (docs / "concepts").mkdir(parents=True)
    (docs / "concepts" / "choosing_a_method.md").write_text(
        "# Choosing a method\n\nText.\n"
    )
    (examples / "in_practice").mkdir(parents=True)
    (examples / "in_practice" / "plot_03_custom_vjp_rule.py").write_text(
        '"""\nWriting your own VJP rule with torch.autograd.Function\n'
        + "=" * 54
        + '\n\nIntro.\n"""\n\n# %%\n# .. _custom-rule-gradcheck:\n#\n'
        + "# ``gradcheck`` and ``gradgradcheck``\n# "
        + "-" * 36
        + "\n\n# %%\n# .. _custom-rule-bug:\n#\n"
        + "# A bug that :math:`v = 1` cannot see\n# "
        + "-" * 36
        + "\n"
    )
    header = b"# Sphinx inventory version 2\n# Project: torch\n# Version: 2.13\n"
    header += b"# The remainder of this file is compressed using zlib.\n"
    (docs / "torch.inv").write_bytes(
        header + zlib.compress("\n".join(sorted(INVENTORY)).encode() + b"\n")
    )
    gallery = {
        "examples_dirs": "../examples",
        "gallery_dirs": "auto_examples",
        "notebook_extensions": {".py"},
        "ignore_pattern": r"__init__\.py",
    }
    config = SimpleNamespace(
        html_baseurl=SITE,
        html_file_suffix=None,
        add_function_parentheses=True,
        source_suffix={".md": "markdown", ".rst": "restructuredtext"},
        intersphinx_mapping={"torch": ("torch", (TORCH, ("torch.inv",)))},
        sphinx_gallery_conf=gallery,
    )
    return SimpleNamespace(srcdir=str(docs), config=config)


PAGE = "auto_examples/under_the_hood/plot_03_vjps_under_torch_compile"

# From jacobians/plot_03 (its first two rows).
LIST_TABLE = r"""Equivalent calls:

.. list-table::
   :header-rows: 1

   * - to compute
     - ``torch.autograd``
     - ``torch.func``
   * - :math:`v^\top J`, shaped like ``x``
     - ``autograd.functional.vjp(f, x, v)[1]``,
       ``autograd.grad(f(x_leaf), x_leaf, v)[0]``
     - ``func.vjp(f, x)[1](v)[0]``
"""


def test_markdown_table():
    cell = rst2md(LIST_TABLE)
    table = markdown_table(notebook_markdown.LIST_TABLE.search(cell))
    assert table.splitlines() == [
        "| to compute | ``torch.autograd`` | ``torch.func`` |",
        "| --- | --- | --- |",
        r"| $v^\top J$, shaped like ``x`` | ``autograd.functional.vjp(f, x, v)[1]``, "
        "``autograd.grad(f(x_leaf), x_leaf, v)[0]`` | ``func.vjp(f, x)[1](v)[0]`` |",
        "",  # a blank line ends the table
    ]


def test_markdown_table_refuses_what_markdown_cannot_say():
    two_headers = LIST_TABLE.replace(":header-rows: 1", ":header-rows: 2")
    with pytest.raises(NotMarkdown, match="2 header rows"):
        markdown_table(notebook_markdown.LIST_TABLE.search(rst2md(two_headers)))


def test_a_table_cell_by_cell(app):
    markdown = to_markdown(rst2md(LIST_TABLE), Targets(app), PAGE)
    assert (
        "| to compute | `torch.autograd` | `torch.func` |\n| --- | --- | --- |\n"
        in markdown
    )
    assert not REST.search(markdown)


GEN = f"{TORCH}generated/"
CUSTOM_RULE = "sphx_glr_auto_examples_in_practice_plot_03_custom_vjp_rule.py"
HESSIAN = (
    r"\nabla^2 f(x) = \operatorname{diag}(s) - s s^\top \in \mathbb{R}^{n \times n}."
)


@pytest.mark.parametrize(
    "rst, markdown",
    [
        # in_practice/plot_06: a function, and the short form of a name
        (
            r"Forward mode (:func:`torch.func.jvp`, dual",
            f"Forward mode ([`torch.func.jvp()`]({GEN}torch.func.jvp.html), dual",
        ),
        (
            r"rule with :func:`~torch.autograd.gradcheck`, shows",
            f"rule with [`gradcheck()`]({GEN}torch.autograd.gradcheck.html), shows",
        ),
        # in_practice/plot_03: a class, and a literal
        (
            r"the ``backward`` of a :class:`torch.autograd.Function` *is* a VJP rule.",
            "the `backward` of a [`torch.autograd.Function`]"
            f"({TORCH}autograd.html#torch.autograd.Function) *is* a VJP rule.",
        ),
        # under_the_hood/plot_03: a page of the site
        (
            r"Next: back to the overview, :doc:`/concepts/choosing_a_method`.",
            "Next: back to the overview, "
            f"[Choosing a method]({SITE}concepts/choosing_a_method.html).",
        ),
        # in_practice/plot_06: another tutorial, by its label
        (
            f"The reverse-mode rule of a Function: :ref:`{CUSTOM_RULE}`.",
            "The reverse-mode rule of a Function: "
            "[Writing your own VJP rule with torch.autograd.Function]"
            f"({SITE}auto_examples/in_practice/plot_03_custom_vjp_rule.html).",
        ),
        # a section of another tutorial, by its label: that page, at its anchor
        (
            "As :ref:`custom-rule-gradcheck` shows.",
            "As [`gradcheck` and `gradgradcheck`]"
            f"({SITE}auto_examples/in_practice/plot_03_custom_vjp_rule.html"
            "#custom-rule-gradcheck) shows.",
        ),
        # ... whose title has maths in it
        (
            "As :ref:`custom-rule-bug` shows.",
            "As [A bug that $v = 1$ cannot see]"
            f"({SITE}auto_examples/in_practice/plot_03_custom_vjp_rule.html"
            "#custom-rule-bug) shows.",
        ),
        # a section's label, which docs/questions.md links to: rst2md drops it
        (
            ".. _vmap-in-place-writes:\n\nIn-place writes\n---------------",
            "# In-place writes",
        ),
        # in_practice/plot_06: a display, at column 0
        (f".. math::\n\n   {HESSIAN}", f"$$\n{HESSIAN}\n$$"),
        # jacobians/plot_04: a display in a list item, over two lines
        (
            "* **Gaussian**:\n\n  .. math::\n\n"
            "     \\sigma^2 = 2 \\sum_i \\lambda_i^2\n     = 2 \\lVert S \\rVert_F^2.",
            "* **Gaussian**:\n\n  $$\n"
            "  \\sigma^2 = 2 \\sum_i \\lambda_i^2\n  = 2 \\lVert S \\rVert_F^2.\n  $$",
        ),
    ],
)
def test_to_markdown(app, rst, markdown):
    converted = to_markdown(rst2md(rst), Targets(app), PAGE)
    assert converted.strip() == markdown
    assert not REST.search(converted)


@pytest.mark.parametrize(
    "rst, error",
    [
        (":func:`torch.not_in_the_inventory`", "not in the inventory"),
        (":doc:`/concepts/no_such_page`", "no page"),
        (":ref:`some_label`", "not the label of a gallery example"),
        (":rc:`lines.linewidth`", "no Markdown for this role"),
    ],
)
def test_what_resolves_nowhere_is_an_error(app, rst, error):
    with pytest.raises(NotMarkdown, match=error):
        to_markdown(rst2md(rst), Targets(app), PAGE)


@pytest.mark.parametrize(
    "rest",
    [
        ":func:`torch.vjp`",
        ":py:class:`x`",
        ".. list-table::",
        "   .. math::",
        ".. _label:",
        "``x``",
        "`text <https://x>`_",
    ],
)
def test_rest_is_found(rest):
    assert REST.search(rest) and leftover_rest(rest)


def test_code_spans_are_code_not_rest():
    """A C++ name in a code span looks like a role (`a::b:`), and is not one."""
    assert not leftover_rest("as `autograd::engine::evaluate_function:` and the")
    assert leftover_rest("`x` and :func:`y`")


@pytest.mark.parametrize(
    "markdown",
    ["$v^\\top J$", "`x`", "[text](https://x)", "| a | b |", "**bold** and *it*"],
)
def test_markdown_is_not_taken_for_rest(markdown):
    assert not REST.search(markdown)


def test_a_notebook_cell_in_markdown_out(app, tmp_path):
    """save_markdown_notebook, where sphinx-gallery saves a notebook: each
    Markdown cell converted, code cells untouched, the converter's mark set."""
    examples = notebook_markdown.generated_examples(app)
    (target,) = examples
    cells = [
        {
            "cell_type": "markdown",
            "metadata": {},
            "source": rst2md(r"See :func:`torch.func.jvp` and ``x``."),
        },
        {
            "cell_type": "code",
            "metadata": {},
            "source": "x = ``1``",
            "outputs": [],
            "execution_count": None,
        },
    ]
    written = target.with_suffix(".ipynb.new")
    written.parent.mkdir(parents=True)
    work = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 0}
    notebook_markdown.save_markdown_notebook(work, written, Targets(app), examples)
    saved = json.loads(written.read_text())
    assert saved["cells"][0]["source"] == [
        f"See [`torch.func.jvp()`]({TORCH}generated/torch.func.jvp.html) and `x`.\n"
    ]
    assert saved["cells"][1]["source"] == "x = ``1``"
    assert saved["metadata"][notebook_markdown.MARK_KEY] == notebook_markdown.MARK


def test_sphinx_gallery_still_writes_notebooks_the_way_the_module_relies_on():
    """notebook_markdown replaces gen_rst's name save_notebook. That works while
    generate_file_rst looks the name up in gen_rst when it runs, calls it as
    save_notebook(work_notebook, write_file) on "<example>.ipynb.new", and zips
    the example after it; and while the gallery's zips are made after every
    example, in the same handler. A change to any of these fails here."""
    assert re.search(
        r"^from \.notebook import .*\bsave_notebook\b", inspect.getsource(gen_rst), re.M
    )
    assert list(inspect.signature(notebook.save_notebook).parameters) == [
        "work_notebook",
        "write_file",
    ]
    generate = inspect.getsource(gen_rst.generate_file_rst)
    assert "save_notebook" in gen_rst.generate_file_rst.__code__.co_names, (
        "a global name, looked up when called"
    )
    assert 'ipy_fname = target_file.with_suffix(".ipynb.new")' in generate
    assert generate.index("save_notebook(example_nb, ipy_fname)") < generate.index(
        "zip_files("
    )
    gallery = inspect.getsource(gen_gallery.generate_gallery_rst)
    assert gallery.index("generate_dir_rst(") < gallery.index("_finish_index_rst(")
    assert "generate_zipfiles(" in inspect.getsource(gen_gallery._finish_index_rst)


def test_route_notebooks_refuses_a_changed_sphinx_gallery(monkeypatch):
    monkeypatch.setattr(notebook, "save_notebook", lambda notebook, path, extra: None)
    with pytest.raises(Exception, match="no longer writes notebooks"):
        notebook_markdown.route_notebooks(lambda work_notebook, write_file: None)
