"""Run the concept notebooks in this build's own Python, quietly, with no race.

myst-nb executes the notebook pages in ``docs/`` with a Jupyter kernel. Three
things go wrong with the defaults, and this extension fixes each one before
any page is read:

* **Which Python.** The notebooks ask for the kernel ``python3``. Jupyter
  looks for it in the reader's own folders first, so a ``python3`` kernel
  installed there for another Python (without torch, say) would run the
  pages. A kernel spec written under the build folder, and put first on
  ``JUPYTER_PATH``, names the Python that runs Sphinx.
* **A noisy log.** ipykernel logs "Kernel is running over TCP without
  encryption" once per notebook, a kernel on loopback that nobody else talks
  to; the kernel spec starts it with ``log_level=ERROR``, so that warning
  stays out of the build log while real kernel errors still show.
* **A race.** With ``sphinx-build -j auto`` the pages are read by forked
  processes; on a clean build two of them could each create myst-nb's
  jupyter-cache database and one fails with "table settings already exists".
  The database is created here, in the main process, before any fork.
  jupyter-cache 1.0 creates it lazily, on first use, from whichever process
  gets there first (``jupyter_cache/cache/db.py``, ``create_db``: it checks
  that the file exists, then creates the tables). Reported as
  https://github.com/sphinx-doc/sphinx/issues/12481, closed there as an
  extension's bug; no jupyter-cache issue yet (the text for one is in
  docs/contributing.md, "Upstream issues to file"). This part can go once
  ``create_db`` tolerates a concurrent create.

The first two are not workarounds: Jupyter looks for kernels in the user's
folders first by design, and ipykernel's log level is a setting.
"""

import json
import os
import sys
from pathlib import Path

KERNEL = "python3"  # the name the notebook pages' front matter asks for


def write_kernel_spec(folder: Path) -> None:
    spec = folder / "kernels" / KERNEL
    spec.mkdir(parents=True, exist_ok=True)
    argv = [
        sys.executable,
        "-m",
        "ipykernel_launcher",
        "-f",
        "{connection_file}",
        "--IPKernelApp.log_level=ERROR",
    ]
    content = {
        "argv": argv,
        "display_name": "Python 3 (VJP Cookbook build)",
        "language": "python",
    }
    (spec / "kernel.json").write_text(json.dumps(content, indent=1))


def prepare(app):
    jupyter = Path(app.outdir).parent / "jupyter"
    write_kernel_spec(jupyter)
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        filter(None, [str(jupyter), os.environ.get("JUPYTER_PATH")])
    )

    cache = Path(app.env.mystnb_config.execution_cache_path)
    if app.config.nb_execution_mode == "cache" and not (cache / "global.db").exists():
        from jupyter_cache import (
            get_cache,
        )  # imported only when there is a database to create

        get_cache(cache).db  # creates the folder, the database and its tables


def setup(app):
    # After myst-nb's create_mystnb_config, which sets app.env.mystnb_config read
    # above: myst_nb/sphinx_ext.py connects it to builder-inited at the default
    # priority, 500. (sphinx-gallery's generate_gallery_rst, also at 500, does
    # not use the kernel: its order does not matter here.)
    app.connect("builder-inited", prepare, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
