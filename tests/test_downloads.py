"""The downloads work on their own: each tutorial's .py runs as a script and
its .ipynb runs cell by cell in IPython, each in an empty folder, and both
print what the page shows (so no example depends on the gallery having run
another before it, nor on torch state left behind by one). The scripts run
while the site builds and are compared with their downloads, byte for byte,
once it is built. One notebook also runs in a real Jupyter kernel, started
the way Jupyter starts it.

Each run is a fresh process forked from a server that has imported torch,
matplotlib and IPython and nothing else (tests/standalone.py): the state of a
new interpreter after those imports, without paying for them 54 times.
"""

import json
import subprocess
import sys
import zipfile

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import EXAMPLES, REPO, output_lines, reader_env, shared_tmp, shown_lines, soup, tutorial_page


def downloaded(site, example, suffix):
    page = tutorial_page(site.html, example)
    for a in soup(page, "a").select("a[href]"):
        if "_downloads" in a["href"] and a["href"].endswith(example.stem + suffix):
            return (page.parent / a["href"]).resolve()
    raise AssertionError(f"{page.name} has no {suffix} download link")


class Standalone:
    """tests/standalone.py, started once: run(kind, path, cwd) runs one download alone."""

    def __init__(self):
        self.server = subprocess.Popen(
            [sys.executable, str(REPO / "tests" / "standalone.py")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=reader_env(),
        )

    def run(self, kind, path, cwd) -> dict:
        self.server.stdin.write(json.dumps({"kind": kind, "path": str(path), "cwd": str(cwd)}) + "\n")
        self.server.stdin.flush()
        answer = self.server.stdout.readline()
        assert answer, f"the standalone server stopped (exit code {self.server.poll()})"
        return json.loads(answer)

    def close(self):
        self.server.stdin.close()  # the server ends when its input does
        self.server.wait(timeout=60)
        self.server.stdout.close()


@pytest.fixture(scope="module")
def standalone():
    server = Standalone()
    yield server
    server.close()


def printed_alone(tmp_path_factory, example):
    """Where test_example_runs_alone_as_a_script keeps the script it ran and
    what it printed (shared by the pytest-xdist workers)."""
    return shared_tmp(tmp_path_factory) / "printed-alone" / f"{example.parent.name}-{example.stem}.json"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs_alone_as_a_script(example, standalone, tmp_path, tmp_path_factory):
    """Each example, run as `python plot_....py` in an empty folder: it exits
    cleanly. It needs no built site, so under pytest-xdist these runs fill the
    time the site takes to build; the test below compares what they printed
    with the page."""
    result = standalone.run("script", example, tmp_path)
    assert result["returncode"] == 0, result["stderr"][-3000:]
    record = printed_alone(tmp_path_factory, example)
    record.parent.mkdir(exist_ok=True)
    (tmp_path / "record.json").write_text(json.dumps({"script": example.read_text(encoding="utf-8"), "stdout": result["stdout"]}))
    (tmp_path / "record.json").replace(record)  # whole, for a reader on another worker


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_downloaded_script_prints_what_the_page_shows(site, example, standalone, tmp_path, tmp_path_factory):
    """The download, run alone, prints what the page shows: the run of the
    test above if it ran this very script, else a run now."""
    script = downloaded(site, example, ".py")
    assert script.read_bytes() == (site.root / "examples" / example.parent.name / example.name).read_bytes(), "the download is not the example"
    record = printed_alone(tmp_path_factory, example)
    ran = json.loads(record.read_text()) if record.exists() else {}
    if ran.get("script") == script.read_text(encoding="utf-8"):
        printed = ran["stdout"]
    else:
        result = standalone.run("script", script, tmp_path)
        assert result["returncode"] == 0, result["stderr"][-3000:]
        printed = result["stdout"]
    assert output_lines(printed) == shown_lines(site.html, example)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_downloaded_notebook_runs_and_shows_the_page_output(site, example, standalone, tmp_path):
    result = standalone.run("notebook", downloaded(site, example, ".ipynb"), tmp_path)
    assert result["returncode"] == 0, result["stdout"][-2000:] + result["stderr"][-3000:]
    assert output_lines(result["stdout"]) == shown_lines(site.html, example)
    assert result["figures"] >= 1, "the notebook shows the figure"


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


def test_a_downloaded_notebook_runs_in_a_jupyter_kernel(site, kernel_name, tmp_path):
    """The same check through Jupyter itself: a kernel started by jupyter_client,
    driven by nbclient as Jupyter and nbconvert drive it."""
    example = EXAMPLES[0]
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
    assert output_lines(printed) == shown_lines(site.html, example)
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
