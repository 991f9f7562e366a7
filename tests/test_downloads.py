"""The downloads work on their own: each tutorial's .py runs as a script and
its .ipynb runs cell by cell in IPython, each in an empty folder, and both
print what the page shows (so no example depends on the gallery having run
another before it, nor on torch state left behind by one). They run while the
site builds, the notebooks made with sphinx-gallery's own parser; once it is
built, a download whose code is not what ran is run again. One notebook also
runs in a real Jupyter kernel, started the way Jupyter starts it.

Each run is a fresh process forked from a server that has imported torch,
matplotlib and IPython and nothing else (tests/standalone.py): the state of a
new interpreter after those imports, without paying for them 54 times.
"""

import json
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from conftest import (
    EXAMPLES,
    Standalone,
    code_cells,
    gallery_notebook,
    output_lines,
    quickest_examples,
    shared_tmp,
    shown_lines,
    soup,
    tutorial_page,
)
from nbclient import NotebookClient


def downloaded(site, example, suffix):
    page = tutorial_page(site.html, example)
    for a in soup(page, "a").select("a[href]"):
        if "_downloads" in a["href"] and a["href"].endswith(example.stem + suffix):
            return (page.parent / a["href"]).resolve()
    raise AssertionError(f"{page.name} has no {suffix} download link")


@pytest.fixture(scope="module")
def standalone():
    server = Standalone()
    yield server
    server.close()


def ran_alone(tmp_path_factory, example, kind) -> Path:
    """Where test_example_runs_alone keeps what it ran of EXAMPLE as KIND and
    what that printed (shared by the pytest-xdist workers)."""
    return (
        shared_tmp(tmp_path_factory)
        / "ran-alone"
        / f"{example.parent.name}-{example.stem}.{kind}.json"
    )


def run_alone(standalone, kind, path, cwd) -> str:
    """Run the script or notebook at PATH alone; check it ran cleanly (and a
    notebook showed its figure); return what it printed."""
    result = standalone.run(kind, path, cwd)
    assert result["returncode"] == 0, (
        result["stdout"][-2000:] + result["stderr"][-3000:]
    )
    if kind == "notebook":
        assert result["figures"] >= 1, "the notebook shows the figure"
    return result["stdout"]


@pytest.mark.parametrize("kind", ["script", "notebook"])
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs_alone(example, kind, standalone, tmp_path, tmp_path_factory):
    """Each example, run alone in an empty folder as a script and as the
    notebook sphinx-gallery makes of it: it runs cleanly and the notebook
    shows its figure. These runs need no built site, so under pytest-xdist
    they fill the time the site takes to build; the tests below compare what
    they printed with the page, once they have checked that the downloads
    are what ran."""
    if kind == "script":
        ran, path = example.read_text(encoding="utf-8"), example
    else:
        notebook = gallery_notebook(example)
        ran, path = code_cells(notebook), tmp_path / (example.stem + ".ipynb")
        path.write_text(json.dumps(notebook))
    printed = run_alone(standalone, kind, path, tmp_path)
    record = ran_alone(tmp_path_factory, example, kind)
    record.parent.mkdir(exist_ok=True)
    (tmp_path / "record.json").write_text(json.dumps({"ran": ran, "stdout": printed}))
    (tmp_path / "record.json").replace(record)  # whole, for a reader on another worker


def printed_alone(
    standalone, tmp_path_factory, example, kind, download, tmp_path
) -> str:
    """What DOWNLOAD printed run alone: test_example_runs_alone's run if it ran
    this very code, else a run now."""
    record = ran_alone(tmp_path_factory, example, kind)
    recorded = json.loads(record.read_text()) if record.exists() else {}
    code = (
        download.read_text(encoding="utf-8")
        if kind == "script"
        else code_cells(json.loads(download.read_text(encoding="utf-8")))
    )
    if recorded.get("ran") == code:
        return recorded["stdout"]
    return run_alone(standalone, kind, download, tmp_path)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_downloaded_script_prints_what_the_page_shows(
    site, example, standalone, tmp_path, tmp_path_factory
):
    script = downloaded(site, example, ".py")
    assert (
        script.read_bytes()
        == (site.root / "examples" / example.parent.name / example.name).read_bytes()
    ), "the download is not the example"
    printed = printed_alone(
        standalone, tmp_path_factory, example, "script", script, tmp_path
    )
    assert output_lines(printed) == shown_lines(site.html, example)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_downloaded_notebook_runs_and_shows_the_page_output(
    site, example, standalone, tmp_path, tmp_path_factory
):
    printed = printed_alone(
        standalone,
        tmp_path_factory,
        example,
        "notebook",
        downloaded(site, example, ".ipynb"),
        tmp_path,
    )
    assert output_lines(printed) == shown_lines(site.html, example)


@pytest.fixture(scope="module")
def kernel_name(tmp_path_factory):
    """A Jupyter kernel spec for this test run's Python, found before any other."""
    folder = tmp_path_factory.mktemp("jupyter")
    spec = folder / "kernels" / "cookbook-test"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "language": "python", "display_name": "test"})
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(folder))
        patch.delenv("MPLBACKEND", raising=False)  # the kernel's own inline figures
        yield "cookbook-test"


def test_a_downloaded_notebook_runs_in_a_jupyter_kernel(site, kernel_name, tmp_path):
    """The same check through Jupyter itself: a kernel started by jupyter_client,
    driven by nbclient as Jupyter and nbconvert drive it."""
    (example,) = quickest_examples(
        site.html, 1
    )  # a kernel is the slowest way to run a notebook
    notebook = nbformat.read(downloaded(site, example, ".ipynb"), as_version=4)
    # Generous limits: on a busy machine a kernel can take over a minute to start (nbclient waits 60 s by default).
    client = NotebookClient(
        notebook,
        kernel_name=kernel_name,
        timeout=600,
        startup_timeout=600,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    printed = "".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.get("output_type") == "stream" and output.get("name") == "stdout"
    )
    assert output_lines(printed) == shown_lines(site.html, example)
    figures = [
        o
        for c in notebook.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "image/png" in o.get("data", {})
    ]
    assert figures, "the notebook shows the figure"


def test_gallery_zips_hold_every_script_and_notebook(site):
    downloads = site.html / "_downloads"
    (python_zip,) = downloads.rglob("auto_examples_python.zip")
    (jupyter_zip,) = downloads.rglob("auto_examples_jupyter.zip")
    with zipfile.ZipFile(python_zip) as archive:
        assert sorted(n.rsplit("/", 1)[-1] for n in archive.namelist()) == sorted(
            e.name for e in EXAMPLES
        )
    with zipfile.ZipFile(jupyter_zip) as archive:
        assert sorted(n.rsplit("/", 1)[-1] for n in archive.namelist()) == sorted(
            e.stem + ".ipynb" for e in EXAMPLES
        )
