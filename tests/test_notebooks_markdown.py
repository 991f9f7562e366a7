"""The downloaded notebooks read cleanly in Jupyter and Colab: every Markdown
cell is Markdown, with no reST left in it (docs/_ext/notebook_markdown.py
converts what sphinx-gallery leaves), PyTorch names link to PyTorch's
reference and tables are Markdown tables. Checked in every notebook a reader
can download: each tutorial's own, and those inside the zips."""

import json
import re
import sys
import zipfile

from conftest import EXAMPLES
from sitebuild import CONF, REPO

sys.path.insert(0, str(REPO / "docs" / "_ext"))
# reST that Jupyter and Colab would show as literal text: the pattern the
# converter checks its own output with (tests/unit/test_notebook_markdown.py
# checks what it matches).
from notebook_markdown import CODE_SPAN, REST  # noqa: E402

TABLE = re.compile(r"^\|.*\|[ \t]*\n\|(?:[ \t]*:?-{3,}:?[ \t]*\|)+[ \t]*$", re.M)


def downloadable_notebooks(site):
    """{name: notebook} for every notebook under _downloads, loose or in a zip."""
    downloads = site.html / "_downloads"
    found = {}
    for path in sorted(downloads.rglob("*.ipynb")):
        found[path.relative_to(downloads).as_posix()] = json.loads(
            path.read_text(encoding="utf-8")
        )
    for path in sorted(downloads.rglob("*.zip")):
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                if name.endswith(".ipynb"):
                    found[f"{path.name}:{name}"] = json.loads(archive.read(name))
    return found


def markdown_cells(notebook):
    return [
        "".join(cell["source"])
        for cell in notebook["cells"]
        if cell["cell_type"] == "markdown"
    ]


def test_every_notebook_markdown_cell_is_markdown(site):
    notebooks = downloadable_notebooks(site)
    loose = {name.rsplit("/", 1)[-1] for name in notebooks if ":" not in name}
    assert loose == {example.stem + ".ipynb" for example in EXAMPLES}, (
        "one downloadable notebook per tutorial"
    )
    assert any("_jupyter.zip:" in name for name in notebooks), (
        "the gallery's zip of notebooks is checked too"
    )
    left = {
        name: [
            match[0]
            for cell in markdown_cells(notebook)
            for match in REST.finditer(CODE_SPAN.sub("", cell))
        ]
        for name, notebook in notebooks.items()
    }
    left = {name: found for name, found in left.items() if found}
    assert not left, f"reST left in Markdown cells: {left}"
    maths = [
        cell for notebook in notebooks.values() for cell in markdown_cells(notebook)
    ]
    assert not any("\\begin{align}" in cell for cell in maths), (
        "display maths is written as $$…$$"
    )


def test_notebooks_link_to_pytorch_and_the_site_and_have_tables(site):
    cells = {
        name: "\n".join(markdown_cells(notebook))
        for name, notebook in downloadable_notebooks(site).items()
    }
    assert any(TABLE.search(text) for text in cells.values()), "a Markdown table"
    assert any(f"]({CONF['TORCH_DOCS']}" in text for text in cells.values()), (
        "links to PyTorch's reference"
    )
    assert any(
        f"]({CONF['SITE_URL']}auto_examples/" in text for text in cells.values()
    ), "links to other tutorials"
    # Each tutorial with a table (a list-table in its text) has a Markdown table in its notebook.
    with_tables = [
        e for e in EXAMPLES if ".. list-table::" in e.read_text(encoding="utf-8")
    ]
    assert with_tables, "no tutorial has a table: nothing checked"
    for example in with_tables:
        (text,) = [
            text
            for name, text in cells.items()
            if ":" not in name and name.endswith(f"/{example.stem}.ipynb")
        ]
        assert TABLE.search(text), (
            f"{example.name}: its table is not a Markdown table in the notebook"
        )
