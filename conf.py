"""Sphinx configuration of the VJP Cookbook.

Build with ``make html`` (it runs ``sphinx-build -c . docs build/html``): the
pages are read from ``docs/``, the tutorials are generated from ``examples/``
into ``docs/auto_examples/`` by sphinx-gallery, which runs each example and
embeds its output, so every build also runs every example's checks.
"""

import os
import re
import sys
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent

# The site's own Sphinx extensions live in docs/_ext/, one job each (the list
# below; docs/contributing.md, "How a page is made", says where each acts).
sys.path.insert(0, str(ROOT / "docs" / "_ext"))

# -- The project, and the addresses everything else is built from ----------------
project = "VJP Cookbook"
author = "The VJP Cookbook authors"
copyright = f"2026, {author}"
REPOSITORY = (
    "https://github.com/vjp-cookbook/vjp-cookbook"  # source; "Run in Colab" links
)
# Where the built site is hosted. Read the Docs serves it under
# /<language>/<version>/ and says so in READTHEDOCS_CANONICAL_URL; the 404
# page's asset links, the sitemap and the social-card URLs follow it.
SITE_URL = (
    os.environ.get("READTHEDOCS_CANONICAL_URL")
    or "https://vjp-cookbook.github.io/vjp-cookbook/"
)
TORCH_DOCS = (
    "https://docs.pytorch.org/docs/2.13/"  # PyTorch's reference for the pinned torch
)

extensions = [
    "myst_nb",  # hand-written Markdown pages and notebooks in docs/
    "sphinx_gallery.gen_gallery",  # executed tutorials from examples/
    "sphinx.ext.intersphinx",  # links to PyTorch's reference, from a local inventory
    "sphinx_copybutton",  # a copy button on code cells
    "notfound.extension",  # 404 page
    "sitemap",  # sitemap.xml of every page made from a source
    "sphinxext.opengraph",  # social-card metadata
    "offline_math",  # maths typeset at build time by KaTeX (node; no script on the page)
    "gallery_guard",  # an interrupted build re-runs what it left half-written
    "notebook_kernel",  # concept notebooks: this Python's kernel, a quiet log, no cache race
    "notebook_markdown",  # notebooks: Markdown cells in Markdown (links to PyTorch and the site, tables, $…$)
    "colab_links",  # "Run in Colab" on each tutorial
    "torch_releases",  # "Checked with torch …" next to each tutorial's downloads (make compat)
    "tex_text",  # maths in card tooltips and figure alt texts as characters, not TeX
    "source_links",  # "Edit/View this page" of gallery pages lead to examples/*.py and GALLERY_HEADER.rst
    "page_html",  # everything done to a page's HTML once written, in one list of steps
]

# -- Sources -------------------------------------------------------------------
# sphinx-gallery also writes a notebook next to each generated page; Sphinx
# must not read it as a second source of the same page.
exclude_patterns = ["auto_examples/**/*.ipynb"]
nitpicky = True  # every cross-reference must resolve (warnings are errors)

# -- Tutorials (sphinx-gallery) -------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",  # run every example (make html EXAMPLE=...: see setup below)
    "subsection_order": [
        "../examples/basics",
        "../examples/jacobians",
        "../examples/higher_order",
        "../examples/in_practice",
        "../examples/under_the_hood",
    ],
    "within_subsection_order": "FileNameSortKey",  # numbered file names give the order
    # Each example starts from a fresh torch and matplotlib state.
    "reset_modules": ("matplotlib", "torch_state.reset_torch_state"),
    "reset_modules_order": "both",
    # A failing example is a warning here, and docs/_ext/gallery_guard.py
    # fails the build for it: raised as an error, it would make Sphinx discard
    # its environment and read every page again on the next build.
    "only_warn_on_example_error": True,
    # The computation-times table loads jQuery and DataTables from CDNs; each
    # page shows its own run time instead.
    "write_computation_times": False,
    "remove_config_comments": True,
    # Show only what the script prints, so a page shows what a reader's run
    # of the downloaded script prints.
    "capture_repr": (),
    # Which tutorials use which torch function: feeds the API index.
    "backreferences_dir": "gen_modules/backreferences",
    "doc_module": ("torch",),
    "inspect_global_variables": False,
    # Cards show thumbnails at 160 x 112 CSS pixels: twice that is sharp on
    # high-density screens (the default, 400 x 280, sends 1.6 times the pixels).
    "thumbnail_size": (320, 224),
    # Figures are saved twice, the second at twice the resolution for
    # high-density screens; docs/_ext/figure_text.py checks that each one's
    # text is readable at the width the page shows it (and fails the example
    # when not), then hands it to sphinx-gallery's matplotlib scraper.
    "image_srcset": ["2x"],
    "image_scrapers": ("figure_text",),
    # Only the stylesheet of the cards and figures: the others style Binder
    # badges, pandas tables and captured HTML reprs, none of which a page has.
    "css": ("sg_gallery",),
}

# -- Markdown pages (myst-nb) ---------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
nb_execution_mode = "cache"  # run a notebook page only when it changed
nb_execution_cache_path = str(ROOT / "build" / "jupyter_cache")
nb_execution_excludepatterns = ["auto_examples/*"]  # sphinx-gallery already ran those
nb_execution_raise_on_error = True
# A timeout only stops a hung kernel: a busy or single-core machine must not
# fail the build (a cell takes seconds there; the default limit is 30 s).
nb_execution_timeout = 600

# -- Links to PyTorch -------------------------------------------------------------
# No network while building: docs/_ext/torch_inventory.py (`make inventory`) writes
# the inventory, committed, of the names the site uses that PyTorch's reference
# documents, at the addresses recorded in docs/_ext/torch_documented.json.
intersphinx_mapping = {"torch": (TORCH_DOCS, str(ROOT / "docs" / "_ext" / "torch.inv"))}

# -- HTML ---------------------------------------------------------------------------
html_theme = "furo"
html_title = "VJP Cookbook"
html_math_renderer = (
    "katex"  # typeset at build time (docs/_ext/offline_math.py): no script, no CDN
)
html_static_path = ["docs/_static"]
html_css_files = ["cookbook.css"]
html_favicon = "docs/_static/favicon.svg"
html_baseurl = SITE_URL
html_theme_options = {
    "source_repository": REPOSITORY,
    "source_branch": "main",
    "source_directory": "docs/",
}
copybutton_selector = (
    "div:not(.highlight-none) > div.highlight > pre"  # code, not its output
)
notfound_urls_prefix = urlparse(SITE_URL).path
ogp_site_url = SITE_URL
ogp_social_cards = {"enable": False}  # no images drawn per page at build time
colab_repository = REPOSITORY
colab_branch = "gh-pages"  # the branch the publishing workflow pushes build/html to


# -- The writer's fast loop (Makefile) ------------------------------------------------
def choose_examples(app):
    """`make html-noplot` and `make html EXAMPLE=...` say which examples run
    through VJP_COOKBOOK_NOPLOT and VJP_COOKBOOK_EXAMPLE, applied here, after
    Sphinx has fingerprinted the configuration. The same choice made with
    `-D plot_gallery=0` changes the fingerprint, and Sphinx then rewrites every
    page, on that build and on the next."""
    gallery = app.config.sphinx_gallery_conf
    if os.environ.get("VJP_COOKBOOK_NOPLOT"):
        gallery["plot_gallery"] = False
    pattern = os.environ.get("VJP_COOKBOOK_EXAMPLE")
    if pattern:
        if not any(
            re.search(pattern, str(path))
            for path in (ROOT / "examples").glob("*/plot_*.py")
        ):
            sys.exit(
                f"EXAMPLE={pattern} matches no example in examples/ (for example: EXAMPLE=basics/plot_04)"
            )
        gallery["filename_pattern"] = pattern


# -- A description for every page -----------------------------------------------------
def describe_generated_pages(app, pagename, templatename, context, doctree):
    """sphinxext-opengraph describes the pages made from sources; the index,
    search and 404 pages get a description here (search engines show it, and
    Lighthouse's SEO audit asks for one)."""
    if 'name="description"' not in context.get("metatags", ""):
        title = re.sub(r"<[^>]+>", "", context.get("title") or "") or {
            "genindex": "Index",
            "search": "Search",
        }.get(pagename, pagename)
        title = title.replace(
            '"', "&quot;"
        )  # already HTML text: only the attribute's quote needs escaping
        context["metatags"] = context.get("metatags", "") + (
            f'\n<meta name="description" content="{title}: VJP Cookbook, executable tutorials on vector-Jacobian products in PyTorch">'
        )


def setup(app):
    # After sphinx-gallery reads its options (gen_gallery.update_gallery_conf_builder_inited,
    # priority 10), before it runs the examples (generate_gallery_rst, 500): both connected
    # in sphinx_gallery/gen_gallery.py's setup().
    app.connect("builder-inited", choose_examples, priority=20)
    app.connect(
        "html-page-context", describe_generated_pages, priority=900
    )  # after sphinxext-opengraph
