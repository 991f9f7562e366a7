"""Sphinx configuration of the VJP Cookbook.

Build with ``make html`` (it runs ``sphinx-build -c . docs build/html``): the
pages are read from ``docs/``, the tutorials are generated from ``examples/``
into ``docs/auto_examples/`` by sphinx-gallery, which runs each example and
embeds its output, so every build also runs every example's checks.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent

# Build helpers (torch-state reset, offline maths, gallery guard) live in docs/_ext/.
sys.path.insert(0, str(ROOT / "docs" / "_ext"))

project = "VJP Cookbook"
author = "The VJP Cookbook authors"
copyright = f"2026, {author}"

# PyTorch's reference pages for the torch version pinned in requirements.lock.
TORCH_DOCS = "https://docs.pytorch.org/docs/2.13/"

extensions = [
    "myst_nb",  # hand-written Markdown pages and notebooks in docs/
    "sphinx_gallery.gen_gallery",  # executed tutorials from examples/
    "sphinx.ext.extlinks",  # :torch:`name` links to PyTorch's reference
    "offline_math",  # maths typeset at build time as MathML
    "gallery_guard",  # an interrupted build re-runs what it left half-written
]

# -- Sources -----------------------------------------------------------------
# sphinx-gallery also writes a notebook next to each generated page; Sphinx
# must not read it as a second source of the same page.
exclude_patterns = ["auto_examples/**/*.ipynb"]

# -- Tutorials (sphinx-gallery) -------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",  # run every example
    "subsection_order": [
        "../examples/basics",
        "../examples/jacobians",
        "../examples/higher_order",
        "../examples/in_practice",
    ],
    "within_subsection_order": "FileNameSortKey",  # numbered file names give the order
    # Each example starts from a fresh torch and matplotlib state.
    "reset_modules": ("matplotlib", "torch_state.reset_torch_state"),
    "reset_modules_order": "both",
    # The computation-times table loads jQuery and DataTables from CDNs; each
    # page shows its own run time instead.
    "write_computation_times": False,
    "remove_config_comments": True,
    # Show only what the script prints, so a page shows what a reader's run
    # of the downloaded script prints.
    "capture_repr": (),
}

# -- Markdown pages (myst-nb) ---------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
nb_execution_mode = "cache"  # run a notebook page only when it changed
nb_execution_cache_path = str(ROOT / "build" / "jupyter_cache")
nb_execution_excludepatterns = ["auto_examples/*"]  # sphinx-gallery already ran those
nb_execution_raise_on_error = True

# -- Links ------------------------------------------------------------------------
extlinks = {"torch": (TORCH_DOCS + "generated/%s.html", "%s")}

# -- HTML ---------------------------------------------------------------------------
html_theme = "furo"
html_title = "VJP Cookbook"
html_math_renderer = "mathml"  # no MathJax, no CDN
html_static_path = ["docs/_static"]
html_css_files = ["cookbook.css"]
