"""The concept notebooks run in this build's Python, quietly, with no race.

Before myst-nb reads the notebook pages of ``docs/``:

* a kernel spec under the build folder, first on ``JUPYTER_PATH``, names the
  Python running Sphinx (Jupyter looks for ``python3`` in the user's folders
  first, where it may be another Python's, without torch);
* the kernel logs errors only: not "Kernel is running over TCP without
  encryption" (on loopback) once per notebook;
* jupyter-cache's database is created in the main process, since under
  ``-j auto`` two forked readers could each create it and one fail with
  "table settings already exists" (``cache/db.py``, ``create_db``, 1.0,
  checks for the file, then creates the tables). Reported as
  https://github.com/sphinx-doc/sphinx/issues/12481, closed there as an
  extension's bug; no jupyter-cache issue yet (text in docs/contributing.md,
  "Upstream issues to file"). Can go once ``create_db`` tolerates a
  concurrent create. The first two are settings, not workarounds.
"""

import json
import os
import sys
from pathlib import Path

KERNEL = "python3"  # the name the notebook pages' front matter asks for


def write_kernel_spec(folder: Path) -> None:
    spec = folder / "kernels" / KERNEL
    spec.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    content = {
        "argv": argv + ["--IPKernelApp.log_level=ERROR"],
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
        from jupyter_cache import get_cache  # only when there is one to create

        get_cache(cache).db  # creates the folder, the database and its tables


def setup(app):
    # After myst-nb's create_mystnb_config, which sets app.env.mystnb_config read
    # above: myst_nb/sphinx_ext.py connects it to builder-inited at the default
    # priority, 500. (sphinx-gallery's generate_gallery_rst, also at 500, does
    # not use the kernel: its order does not matter here.)
    app.connect("builder-inited", prepare, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
