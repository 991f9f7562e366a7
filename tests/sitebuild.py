"""Build the site the way a reader does (`make html`) in a copy of this
repository. Shared by the tests (conftest.py) and the benchmark (bench.py)."""

import contextlib
import functools
import gzip
import http.server
import io
import json
import os
import re
import runpy
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parent.parent
CONF = runpy.run_path(
    str(REPO / "conf.py")
)  # the site's configuration, as Sphinx reads it
# The URL path the hosted site lives under (e.g. /vjp-cookbook/); pages are served under it.
SITE_PREFIX = urlparse(CONF["SITE_URL"]).path
EXAMPLES = sorted(REPO.glob("examples/*/plot_*.py"))


def gallery_order() -> list[Path]:
    """The examples in the order the gallery shows them: sections as conf.py's
    subsection_order lists them, files by name within a section."""
    sections = [
        Path(s).name for s in CONF["sphinx_gallery_conf"].get("subsection_order") or []
    ]
    return sorted(
        EXAMPLES,
        key=lambda e: (
            sections.index(e.parent.name)
            if e.parent.name in sections
            else len(sections),
            e.parent.name,
            e.name,
        ),
    )


# Colour codes Sphinx adds to its log on a terminal or under CI=true.
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
# Generated or local files that a fresh clone does not have.
NOT_SOURCES = shutil.ignore_patterns(
    ".git",
    ".venv",
    "node_modules",
    "build",
    "auto_examples",
    "gen_modules",
    "__pycache__",
    ".pytest_cache",
    "*.egg-info",
)


@dataclass
class Build:
    """The result of one `make html` run in a copy of the repository."""

    root: Path
    returncode: int
    log: str
    seconds: float

    @property
    def html(self) -> Path:
        return self.root / "build" / "html"


def copy_repo(dest: Path, source: Path = REPO) -> Path:
    """A copy of this repository (or of SOURCE) as a fresh clone has it (no build output)."""
    shutil.copytree(source, dest, ignore=NOT_SOURCES)
    return dest


def copy_built(root: Path, dest: Path) -> Path:
    """A copy of a built repository ROOT, build output included (file times kept).

    Sphinx reads every page again in a copy (its source folder moved), but
    sphinx-gallery runs only the examples whose file changed (their .md5) and
    myst-nb finds the concept notebooks in its cache: the way sphinx-gallery's
    own rebuild test derives its scenarios from one build."""
    shutil.copytree(
        root,
        dest,
        symlinks=True,
        ignore=shutil.ignore_patterns("test-artifacts", "__pycache__"),
    )
    return dest


def make_command(root: Path, target: str) -> list[str]:
    """`make TARGET` in ROOT, using this test run's Python environment."""
    return ["make", "-C", str(root), target, f"VENV={sys.prefix}"]


def make(root: Path, target: str = "html", *args: str, timeout: float = 1200) -> Build:
    """Run `make TARGET [ARGS]` (e.g. "EXAMPLE=basics/plot_04") in ROOT and return what it did."""
    start = time.perf_counter()
    result = subprocess.run(
        make_command(root, target) + list(args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=reader_env(),
    )
    log = ANSI_ESCAPE.sub("", result.stdout + result.stderr)
    return Build(root, result.returncode, log, time.perf_counter() - start)


def start_make(root: Path, target: str = "html") -> subprocess.Popen:
    """Start `make TARGET` in ROOT in a process group of its own (so it can be
    interrupted), with Ctrl-C's SIGINT doing what it does in a terminal: a
    shell that starts a command in the background (`make test &`, `nohup`)
    ignores SIGINT for it, and the build inherited that and never stopped."""
    return subprocess.Popen(
        make_command(root, target),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=reader_env(),
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def interrupt(process: subprocess.Popen, sig: int) -> None:
    """Send SIG to the build started by start_make and wait for it to end.
    A build still running 120 s later is made to print where each of its
    threads is (SIGABRT, with Python's fault handler on), then killed, and the
    end of what it printed goes into the failure."""
    os.killpg(process.pid, sig)
    try:
        process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGABRT)
        try:
            output, _ = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
        raise AssertionError(
            f"the build did not stop within 120 s of {signal.Signals(sig).name}:\n{output[-6000:]}"
        ) from None


def reader_env() -> dict:
    env = dict(os.environ, MPLBACKEND="Agg")
    env.pop("VIRTUAL_ENV", None)  # VENV= on the command line names the environment
    env["PYTHONFAULTHANDLER"] = (
        "1"  # a build killed by a fatal signal prints where it was
    )
    return env


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextlib.contextmanager
def serve(html: Path, prefix: str, compress: bool = False):
    """Serve HTML on localhost under the URL path PREFIX (as the host does); yield the base URL.

    With COMPRESS, text files (HTML, CSS, JavaScript, SVG) go out gzip-compressed
    to a browser that accepts it, as GitHub Pages and Read the Docs send them."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        def translate_path(self, path):
            if not path.startswith(prefix):
                return str(html / "does-not-exist")
            return super().translate_path("/" + path[len(prefix) :])

        def send_head(self):
            path = Path(self.translate_path(self.path))
            if path.is_dir():
                path = path / "index.html"
            wanted = compress and "gzip" in self.headers.get("Accept-Encoding", "")
            if not (
                wanted
                and path.suffix in (".html", ".css", ".js", ".svg")
                and path.is_file()
            ):
                return super().send_head()
            data = gzip.compress(path.read_bytes())
            self.send_response(200)
            self.send_header("Content-Type", self.guess_type(str(path)))
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            return io.BytesIO(data)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(html))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}{prefix}"
    finally:
        server.shutdown()
        server.server_close()


def code_cells(notebook: dict) -> list[str]:
    """The source of each code cell of NOTEBOOK (as JSON), stripped."""
    return [
        ("".join(c["source"]) if isinstance(c["source"], list) else c["source"]).strip()
        for c in notebook["cells"]
        if c["cell_type"] == "code"
    ]


def gallery_notebook(example) -> dict:
    """The code of the notebook sphinx-gallery makes from EXAMPLE, made with
    sphinx-gallery's own parser: the example's code blocks, without their
    sphinx-gallery configuration comments."""
    import nbformat
    from sphinx_gallery.py_source_parser import (
        remove_config_comments,
        split_code_and_text_blocks,
    )

    blocks = split_code_and_text_blocks(str(example))[1]
    code = [
        remove_config_comments(b.content).strip() for b in blocks if b.type == "code"
    ]
    cells = [nbformat.v4.new_code_cell(text) for text in code if text]
    return json.loads(nbformat.writes(nbformat.v4.new_notebook(cells=cells)))
