"""The downloads work on their own: each tutorial's .py runs with python and
its .ipynb runs in a Jupyter kernel, each in an empty folder, and both print
what the page shows (so no example depends on the gallery having run another
before it, nor on torch state left behind by one)."""

import json
import subprocess
import sys
import zipfile

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import EXAMPLES, output_lines, page_outputs, soup, reader_env, tutorial_page


def downloaded(site, example, suffix):
    page = tutorial_page(site.html, example)
    for a in soup(page).select("a[href]"):
        if "_downloads" in a["href"] and a["href"].endswith(example.stem + suffix):
            return (page.parent / a["href"]).resolve()
    raise AssertionError(f"{page.name} has no {suffix} download link")


def page_lines(site, example):
    return output_lines("\n".join(page_outputs(soup(tutorial_page(site.html, example)))))


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_downloaded_script_prints_what_the_page_shows(site, example, tmp_path):
    script = downloaded(site, example, ".py")
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, env=reader_env(), timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert output_lines(result.stdout) == page_lines(site, example)


@pytest.fixture(scope="module")
def kernel_name(tmp_path_factory):
    """A Jupyter kernel spec for this test run's Python, found before any other."""
    folder = tmp_path_factory.mktemp("jupyter")
    spec = folder / "kernels" / "cookbook-test"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "language": "python", "display_name": "test"}))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(folder))
        patch.delenv("MPLBACKEND", raising=False)  # the kernel's own inline figures
        yield "cookbook-test"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_downloaded_notebook_runs_and_shows_the_page_output(site, example, kernel_name, tmp_path):
    notebook = nbformat.read(downloaded(site, example, ".ipynb"), as_version=4)
    # Generous limits: on a busy machine a kernel can take over a minute to start (nbclient waits 60 s by default).
    client = NotebookClient(notebook, kernel_name=kernel_name, timeout=600, startup_timeout=600, resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    printed = "".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.get("output_type") == "stream" and output.get("name") == "stdout"
    )
    assert output_lines(printed) == page_lines(site, example)
    figures = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert figures, "the notebook shows the figure"


def test_gallery_zips_hold_every_script_and_notebook(site):
    downloads = site.html / "_downloads"
    (python_zip,) = downloads.rglob("auto_examples_python.zip")
    (jupyter_zip,) = downloads.rglob("auto_examples_jupyter.zip")
    with zipfile.ZipFile(python_zip) as archive:
        assert sorted(n.rsplit("/", 1)[-1] for n in archive.namelist()) == sorted(e.name for e in EXAMPLES)
    with zipfile.ZipFile(jupyter_zip) as archive:
        assert sorted(n.rsplit("/", 1)[-1] for n in archive.namelist()) == sorted(e.stem + ".ipynb" for e in EXAMPLES)
